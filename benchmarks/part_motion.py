"""What moves in each class of Penn Action, per body part, in three representations of the teacher's inputs: the
clip-centred joint coordinates the engine uses, joints re-centred on the hips in every frame, and bone angles.
No model: the data's own answer to which part carries an action (docs/part_importance.md, Penn Action).

    python benchmarks/part_motion.py

Mean frame-to-frame displacement of each part's present joints (partkd.distill.efficiency.part_motion) over the
high-quality train clips of each class, as a share of the class's most moving part; the seven classes a coach would
name a region for. Results: benchmarks/results/part_motion_penn_action.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from harness import (
    DATA_ROOT,
    RESULTS,
    add_save_arg,
    md_head,
    md_table,
    provenance,
    publish,
)
from harness_data import COACH, REGION


def representations(x: Any, layout: Any) -> dict[str, Any]:
    """The inputs (N, M, T, V, C) as the engine gives them, re-centred per frame on the hips, and as bone angles."""
    import numpy as np
    import torch

    from partkd.data.modalities import bone_angle

    hips = [layout.joints.index(j) for j in layout.joints if "hip" in j]
    ok = np.any(x != 0, axis=-1)
    root = x[..., hips, :2].mean(axis=-2, keepdims=True)
    both = ok[..., hips].all(axis=-1)[..., None, None]
    hip = x.copy()
    hip[..., :2] = np.where(ok[..., None] & both, x[..., :2] - root, 0.0)
    hip[~ok] = 0.0
    return {
        "clip-centred joints": x,
        "hip-centred joints (per frame)": hip,
        "bone angles": bone_angle(torch.as_tensor(x), layout).numpy(),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI: each part's share of the motion per class in three representations; write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_save_arg(ap, RESULTS / "part_motion_penn_action")
    args = ap.parse_args(argv)
    import numpy as np

    from partkd.distill.efficiency import class_means, part_motion
    from partkd.engine.config import DataSpec, train_preset
    from partkd.engine.data import load_high, model_inputs
    from partkd.layouts import PARTS

    prov = provenance(argv)
    spec = DataSpec(source=str(DATA_ROOT / "penn_action"), format="penn_action")
    high = load_high(spec)
    train = high.by_split("train")

    x = np.asarray(model_inputs(train, train_preset("cpu")))  # the kd_real bench teachers' input, made dense
    res: dict[str, Any] = {
        **prov.record(),
        "data": spec.describe(),
        "clips": len(train),
        "centre_joint": high.layout.joints[high.layout.center],
        "tables": {},
    }
    lines = [
        *md_head("What moves in Penn Action, per part (no model)", prov),
        f"{len(train)} high-quality train clips, the cpu preset's input (T = {x.shape[2]}), the engine's "
        f"normalisation (centred on the clip's mean '{res['centre_joint']}' position, scaled by body size). "
        "Entries: each part's mean frame-to-frame displacement as a share of the class's most moving part.",
        "",
    ]
    for name, arr in representations(x, high.layout).items():
        M = class_means(part_motion(arr, high.layout), train.labels, train.num_classes)
        shares, table, hits = {}, [], 0
        for c, region in COACH.items():
            i = train.class_names.index(c)
            share = M[i] / max(float(M[i].max()), 1e-12)
            top = PARTS[int(np.argmax(M[i]))]
            hits += REGION[top] == region
            shares[c] = share.tolist()
            table.append([c, region, *(f"{v:.2f}" for v in share), top])
        lines += [
            f"## {name}",
            "",
            md_table(["class", "coach's region", *PARTS, "most moving"], table),
            "",
            f"Most moving part in the coach's region: {hits} of {len(COACH)}.",
            "",
        ]
        res["tables"][name] = {"shares": shares, "in_region": hits}
    publish(args.save, res, "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
