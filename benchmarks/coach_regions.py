"""Does a Penn Action teacher's default part importance E name the region a coach would (arms for bench press,
pull-up, push-up, strum guitar, tennis serve; legs for squat, jump rope)? Reads the E stored by `partkd part-matrix`.

    partkd train-teacher --data ../shared/data/penn_action --format penn_action --preset cpu --out runs/penn_teacher
    partkd part-matrix runs/penn_teacher
    python benchmarks/coach_regions.py runs/penn_teacher [more teachers ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness import RESULTS, add_save_arg, md_head, md_table, provenance, publish
from harness_data import COACH, REGION


def score(meta: dict[str, Any]) -> dict[str, Any]:
    """The teacher's default E: each coach class's top part and whether it lies in the coach's region."""
    import numpy as np

    from partkd.distill.definitions import EFFICIENCIES
    from partkd.layouts import PARTS

    key = meta["E_default"]
    e = np.asarray(meta[EFFICIENCIES.get(key).key])
    names = list(meta["class_names"])
    rows = {}
    for c, region in COACH.items():
        top = PARTS[int(e[names.index(c)].argmax())]
        rows[c] = {"top": top, "named": REGION[top] == region}
    top1 = meta.get("metrics", {}).get("val_top1")
    return {
        "E": key,
        "modalities": meta["model"]["modalities"],
        "dropout": [meta["train"].get("part_dropout"), meta["train"].get("joint_dropout")],
        "top1": None if top1 is None else 100 * top1,
        "sha256": meta.get("weights_sha256"),
        "classes": rows,
        "named": sum(r["named"] for r in rows.values()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("teachers", nargs="+", type=Path, help="teacher run folders or checkpoints with their E")
    add_save_arg(ap, RESULTS / "coach_regions_penn_action")
    args = ap.parse_args(argv)
    from partkd.checkpoints import read_meta

    prov = provenance(argv)
    teachers = {str(t): score(read_meta(t)) for t in args.teachers}
    head = ["teacher", "input", "dropout part / joint", "top-1", *COACH, "named"]
    rows = [
        [
            t,
            ",".join(s["modalities"]),
            " / ".join(str(d) for d in s["dropout"]),
            "—" if s["top1"] is None else f"{s['top1']:.1f}",
            *[s["classes"][c]["top"].replace("_", " ") + ("" if s["classes"][c]["named"] else " ✗") for c in COACH],
            f"{s['named']} / {len(COACH)}",
        ]
        for t, s in teachers.items()
    ]
    md = "\n".join([*md_head("Penn Action: does the default E name the coach's region?", prov), md_table(head, rows)])
    publish(args.save, {**prov.record(), "coach": COACH, "teachers": teachers}, md + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
