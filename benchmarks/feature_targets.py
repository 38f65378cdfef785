"""What a teacher's features offer PMSC as a target, and how closely the distilled students reach it (a diagnosis
of PMSC from a multi-modal teacher).

    python benchmarks/feature_targets.py --dataset penn_action --work runs/bench/modalities_penn_action \
        --teacher-j runs/bench/penn_action_bench_t0.1_eff/teacher_s0 --threads 1

For the joint-only teacher, the 4-stream teacher's fused features (the fusion-weighted mean PMSC reads) and each of
its streams, on the high-quality clips: nearest-class-mean top-1 (cosine to the train clips' class means) of the
global and of each part's features (the structure PMSC transfers). For each PMSC student (j_pmsc_tj_s*,
j_pmsc_t4s_s*) on its test clips at the benchmark's OP: the same nearest-class-mean top-1 of its own features, and
the mean cosine between each paired low clip's part features and its own high clip's teacher part features (how
closely the student reached its target). Writes benchmarks/results/feature_targets_<dataset>.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np
from harness import (
    DATA_ROOT,
    RESULTS,
    Provenance,
    add_save_arg,
    add_threads_arg,
    md_head,
    md_table,
    provenance,
    publish,
    set_threads,
)
from harness_data import DATASETS, data_spec


def features(model: Any, x: np.ndarray, layout: Any) -> tuple[np.ndarray, np.ndarray]:
    """(global (N, C), parts (N, 5, C)) features of `model` (any (logits, joint features) module) on inputs x."""
    from partkd.distill.parts import global_features, part_features, persons_present
    from partkd.models.inference import batched_forward

    def collect(_lg: Any, z: Any, xb: Any) -> tuple[np.ndarray, np.ndarray]:
        present = persons_present(xb)
        return (
            global_features(z.float(), xb.shape[1], present).numpy(),
            part_features(z.float(), layout, xb.shape[1], present).numpy(),
        )

    g, p = zip(*batched_forward(model, x, collect))
    return np.concatenate(g), np.concatenate(p)


def ncm_top1(train: np.ndarray, y_train: np.ndarray, test: np.ndarray, y_test: np.ndarray) -> float:
    """Top-1 of the nearest class mean by cosine: features (N, C) of train (class means) and test clips."""

    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)

    means = unit(np.stack([unit(train[y_train == c]).mean(0) for c in np.unique(y_train)]))
    classes = np.unique(y_train)
    return float((classes[(unit(test) @ means.T).argmax(1)] == y_test).mean())


def structure(
    g_tr: np.ndarray, p_tr: np.ndarray, y_tr: np.ndarray, g_te: np.ndarray, p_te: np.ndarray, y_te: np.ndarray
) -> dict[str, Any]:
    """Nearest-class-mean top-1 of the global and of each part's features."""
    from partkd.distill.parts import PARTS

    return {
        "global": ncm_top1(g_tr, y_tr, g_te, y_te),
        "parts": {p: ncm_top1(p_tr[:, i], y_tr, p_te[:, i], y_te) for i, p in enumerate(PARTS)},
    }


class _Stream:
    """One stream of a multi-stream model as a (logits, features) module on the raw joints."""

    def __init__(self, model: Any, i: int) -> None:
        self.model, self.i = model, i
        self.training = False

    def eval(self) -> None:
        self.model.eval()

    def train(self, mode: bool = True) -> None:
        self.model.train(mode)

    def __call__(self, x: Any) -> Any:
        return self.model.streams[self.i](self.model.derive(x, self.model.modalities[self.i]))


def main(argv: list[str] | None = None) -> int:
    """CLI: score the teachers' and the PMSC students' features; write the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=sorted(DATASETS), required=True)
    ap.add_argument("--work", type=Path, required=True, help="the modalities.py run folders")
    ap.add_argument("--teacher-j", type=Path, default=None, help="the joint-only teacher's run folder")
    ap.add_argument("--op", type=float, default=0.3)
    add_threads_arg(ap)
    ap.add_argument("--data-root", type=Path, default=DATA_ROOT)
    add_save_arg(ap, help="output stem (default benchmarks/results/feature_targets_<dataset>)")
    args = ap.parse_args(argv)

    set_threads(args.threads)
    from partkd.checkpoints import load_checkpoint
    from partkd.distill.parts import PARTS
    from partkd.engine.data import load_paired, model_inputs
    from partkd.engine.evaluate import occlude_set

    spec = data_spec(args.dataset, args.data_root)
    data = load_paired(spec)
    tr, te = data.by_split("train"), data.by_split("test")
    res: dict[str, Any] = {
        "dataset": args.dataset,
        "op": args.op,
        "data": spec.describe(),
        "teachers": {},
        "students": {},
        **provenance(argv).record(),
    }
    targets: dict[str, np.ndarray] = {}  # teacher key -> test H part features (the PMSC target of a test pair)
    tdirs = {"j": args.teacher_j or args.work / "teacher_j", "4s": args.work / "teacher_4s"}
    for key, tdir in tdirs.items():
        t = load_checkpoint(tdir / "model.safetensors")
        x_tr, x_te = model_inputs(tr.high, t.meta), model_inputs(te.high, t.meta)
        views = {"fused" if key == "4s" else "j": t.model}
        if key == "4s":
            views |= {f"stream {m}": _Stream(t.model, i) for i, m in enumerate(t.model.modalities)}
        for name, model in views.items():
            g_tr, p_tr = features(model, x_tr, t.layout)
            g_te, p_te = features(model, x_te, t.layout)
            res["teachers"][f"{key}: {name}"] = structure(g_tr, p_tr, tr.high.labels, g_te, p_te, te.high.labels)
            if name in ("j", "fused"):
                targets[key] = p_te
            print(key, name, res["teachers"][f"{key}: {name}"], flush=True)
    own = te.high_index_of_low()
    for sdir in sorted((args.work / "students").glob("j_pmsc_t*_s*")):
        if not (sdir / "model.safetensors").exists():
            continue
        s = load_checkpoint(sdir / "model.safetensors")
        x_tr = occlude_set(model_inputs(tr.low, s.meta), s.layout, args.op, seed=0)
        x_te = occlude_set(model_inputs(te.low, s.meta), s.layout, args.op, seed=0)
        g_tr, p_tr = features(s.model, x_tr, s.layout)
        g_te, p_te = features(s.model, x_te, s.layout)
        row = structure(g_tr, p_tr, tr.low.labels, g_te, p_te, te.low.labels)
        key = sdir.name.split("_")[2][1:]  # j_pmsc_t4s_s0 -> 4s
        tgt = targets[key][own[own >= 0]]
        mine = p_te[own >= 0]
        cos = (mine * tgt).sum(-1) / np.maximum(np.linalg.norm(mine, axis=-1) * np.linalg.norm(tgt, axis=-1), 1e-12)
        row["cos_to_target"] = {p: float(cos[:, i].mean()) for i, p in enumerate(PARTS)}
        row["cos_to_target_mean"] = float(cos.mean())
        res["students"][sdir.name] = row
        print(sdir.name, row, flush=True)
    save = args.save or RESULTS / f"feature_targets_{args.dataset}"
    publish(save, res, table_md(res))
    print(table_md(res))
    return 0


def table_md(res: dict[str, Any]) -> str:
    """The report: nearest-class-mean top-1 of the teachers' and the PMSC students' features, and how close each
    student came to its teacher's part features."""
    from partkd.distill.parts import PARTS

    def cells(r: dict[str, Any]) -> list[str]:
        return [f"{100 * r['global']:.2f}"] + [f"{100 * r['parts'][p]:.2f}" for p in PARTS]

    header = ["features", "global", *PARTS]
    lines = [
        *md_head(f"{res['dataset']}: PMSC feature targets (diagnosis)", Provenance.from_record(res)),
        f"Data: {res['data']}. Nearest-class-mean top-1 (%, cosine to the train clips' class means) of pooled "
        "features on the test split.",
        "",
        "## Teachers (high-quality clips)",
        "",
        md_table(header, [[name, *cells(r)] for name, r in res["teachers"].items()]),
    ]
    lines += [
        "",
        f"## PMSC students (low-quality clips at OP {res['op']:g})",
        "",
        md_table(
            [*header, "cos to target (mean over parts)"],
            [[name, *cells(r), f"{r['cos_to_target_mean']:.3f}"] for name, r in res["students"].items()],
        ),
    ]
    by = {k: [r["cos_to_target_mean"] for n, r in res["students"].items() if f"_t{k}_" in n] for k in ("j", "4s")}
    if all(by.values()):
        lines += [
            "",
            "Mean cosine of a student's part features to its teacher's on the paired test clips: "
            + "; ".join(f"teacher {k}: {statistics.fmean(v):.3f} (n={len(v)})" for k, v in by.items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
