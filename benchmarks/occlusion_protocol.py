"""Which reading of the paper's occlusion protocol reproduces its degradation (Table 1, "random occlusions to each
joint with a specified probability ... set to zero")?

Students without KD and with PMSC are trained and tested at each OP under each reading (partkd.data.occlusion modes):
joint (each joint of each frame), sequence (each joint for the whole clip), span (each joint over contiguous spans of
frames), part (whole body parts), and test-only (the OP 0 students tested under each mode). One teacher per dataset,
the shipped recipe's (configs/<dataset>_app.toml).

    python benchmarks/occlusion_protocol.py --threads 1                       # screening: seed 0, both datasets
    python benchmarks/occlusion_protocol.py --seeds 0 1 2 --modes span --threads 1   # confirm a reading

Finished runs under --work are reused; the result files are rewritten after every run (a cut-off run leaves valid
files). Records: one per (dataset, mode, kd, op, seed) with top-1 on the test split (read once per record).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness import (
    RESULTS,
    ROOT,
    add_save_arg,
    add_seeds_arg,
    add_threads_arg,
    md_table,
    output_path,
    provenance,
    provenance_line,
    publish,
    set_threads,
)

from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE
from partkd.paper import TABLE1, signed

RECIPES = {
    "penn_action": ROOT / "configs" / "penn_action_app.toml",
    "h36m": ROOT / "configs" / "h36m_app.toml",
    "nw_ucla": ROOT / "configs" / "nw_ucla_app.toml",
}
TRAINED_MODES = ("joint", "sequence", "span", "part")
#: The students compared: without KD, with PMSC weighted by the paper's miss-rate softmax (eq. 13), and with PMSC
#: weighted by the softmax of the teacher's part Shapley values at temperature 0.2: kd -> (method, E, temperature).
KD_VARIANTS: dict[str, tuple[str, str | None, float]] = {
    "none": ("none", None, 1.0),
    "pmsc": ("pmsc", "miss", 1.0),
    "pmsc-shapley": ("pmsc", "shapley", 0.2),
}
KDS = tuple(KD_VARIANTS)
KD_LABELS = {"none": "no KD", "pmsc": "PMSC (miss rate)", "pmsc-shapley": "PMSC (Shapley, T 0.2)"}
#: The record's key of the reading training, evaluation and the app use by default (partkd.data.occlusion).
DEFAULT_MODE_KEY = "default_mode"


def plan(
    datasets: list[str], modes: list[str], ops: list[float], seeds: list[int], kds: tuple[str, ...] = KDS
) -> list[dict[str, Any]]:
    """Training runs in order: per seed, no-KD across every dataset and reading first, then PMSC."""
    out = []
    for seed in seeds:
        for kd in kds:
            for ds in datasets:
                out.append({"dataset": ds, "kd": kd, "op": 0.0, "mode": "joint", "seed": seed})
                for op in sorted((o for o in ops if o > 0), reverse=True):
                    out += [{"dataset": ds, "kd": kd, "op": op, "mode": m, "seed": seed} for m in modes]
    return out


def run_name(r: dict[str, Any]) -> str:
    """A student run's folder name, e.g. 'pmsc_op0.3_span_s0'."""
    return f"{r['kd']}_op{r['op']:g}" + (f"_{r['mode']}" if r["op"] > 0 else "") + f"_s{r['seed']}"


def summary(records: list[dict[str, Any]], ops: list[float]) -> dict[str, Any]:
    """Per dataset and reading: no-KD and PMSC top-1 per OP (mean over seeds), the no-KD drop from OP 0 and the
    PMSC gain per OP (mean and per seed)."""
    out: dict[str, Any] = {}
    for ds in sorted({r["dataset"] for r in records}):
        rows = [r for r in records if r["dataset"] == ds]
        kds = [k for k in KDS if any(r["kd"] == k for r in rows)]
        base = {kd: {r["seed"]: r["top1"] for r in rows if r["kd"] == kd and r["op"] == 0} for kd in kds}
        per_mode: dict[str, Any] = {}
        for mode in sorted({r["mode"] for r in rows if r["op"] > 0}):
            cell: dict[str, Any] = {}
            for op in ops:
                vals = {
                    kd: base[kd]
                    if op == 0
                    else {r["seed"]: r["top1"] for r in rows if r["kd"] == kd and r["op"] == op and r["mode"] == mode}
                    for kd in kds
                }
                c: dict[str, Any] = {kd: 100 * statistics.fmean(v.values()) for kd, v in vals.items() if v}
                c["seeds"] = {kd: len(v) for kd, v in vals.items()}
                for kd in kds[1:]:
                    common = sorted(set(vals.get("none", {})) & set(vals[kd]))
                    if common:
                        per = [100 * (vals[kd][s] - vals["none"][s]) for s in common]
                        key = "gain" if kd == "pmsc" else f"gain:{kd}"
                        c[key], c[f"{key}_per_seed"] = statistics.fmean(per), per
                both = sorted(set(vals.get("none", {})) & set(base.get("none", {})))
                if both and op > 0:
                    c["drop_none"] = statistics.fmean(100 * (vals["none"][s] - base["none"][s]) for s in both)
                cell[f"{op:g}"] = c
            per_mode[mode] = cell
        out[ds] = per_mode
    return out


def table_md(res: dict[str, Any]) -> str:
    """The report: provenance, protocol, and per dataset one row per reading (no KD and PMSC top-1 by OP, the no-KD
    drop, the PMSC gain)."""
    ops = res["ops"]
    penn = TABLE1["Penn Action"]
    lines = [
        "# Occlusion protocol: which reading reproduces the paper's degradation",
        "",
        provenance_line(res["command"], res["date"], res["code_version"], res["machine"]),
        f"Recipes: {', '.join(f'{d}: `{p}`' for d, p in res['recipes'].items())} (teacher, student schedule, KD "
        "α, τ, w). Each student is trained and tested at its OP under its reading; `test-only:<mode>` rows are the OP "
        "0 students tested under that mode. Top-1 % on the test split, mean over seeds (column `seeds`: how many "
        "seeds lie behind the occluded cells). Paper, no-KD drop from OP 0: Penn Action "
        f"{signed(penn.drop())}, NTU-60 CS {signed(TABLE1['NTU-60 CS'].drop())}; PMSC gain (Penn Action) "
        f"{signed(penn.gain())}.",
        "",
    ]
    header = ["reading", *(f"no KD OP {o:g}" for o in ops), "drop 0.3 / 0.6", *(f"PMSC OP {o:g}" for o in ops)]
    header += ["gain " + " / ".join(f"{o:g}" for o in ops)]
    header += [*(f"PMSC-Shapley OP {o:g}" for o in ops), "gain " + " / ".join(f"{o:g}" for o in ops), "seeds"]
    for ds, modes in res["summary"].items():
        rows = []
        for mode, cell in modes.items():

            def val(op: float, kd: str, cell: dict[str, Any] = cell) -> str:
                c = cell.get(f"{op:g}", {})
                return f"{c[kd]:.2f}" if kd in c else ""

            drops = " / ".join(
                f"{cell[f'{o:g}']['drop_none']:+.1f}" if "drop_none" in cell.get(f"{o:g}", {}) else "–"
                for o in ops
                if o > 0
            )

            def gains(key: str, cell: dict[str, Any] = cell) -> str:
                return " / ".join(f"{cell[f'{o:g}'][key]:+.1f}" if key in cell.get(f"{o:g}", {}) else "–" for o in ops)

            # seeds behind the occluded cells (OP 0 is shared by every reading and may have more)
            counts = [k for o, c in cell.items() if o != "0" for k in c["seeds"].values() if k] or [
                k for c in cell.values() for k in c["seeds"].values()
            ]
            n = f"{min(counts)}–{max(counts)}" if counts and min(counts) != max(counts) else str(max(counts, default=0))
            rows.append(
                [
                    mode,
                    *(val(o, "none") for o in ops),
                    drops,
                    *(val(o, "pmsc") for o in ops),
                    gains("gain"),
                    *(val(o, "pmsc-shapley") for o in ops),
                    gains("gain:pmsc-shapley"),
                    n,
                ]
            )
        lines += [f"## {ds} ({res['test_clips'].get(ds, '?')} test clips)", "", md_table(header, rows), ""]
    lines += [
        f"Default reading: `{res[DEFAULT_MODE_KEY]}`.",
        "",
        f"Records {len(res['records'])}; runs not done: " + (", ".join(res["not_run"]) or "none") + ".",
        "",
    ]
    return "\n".join(lines)


def plot(res: dict[str, Any], path: Path) -> None:
    """Top-1 against OP per reading, no KD and PMSC, one panel per dataset, saved to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(res["summary"])
    if not sets:
        return
    fig, axes = plt.subplots(1, len(sets), figsize=(5.2 * len(sets), 5.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    order = sorted({m for ds in sets for m in res["summary"][ds]})  # one colour per reading on every panel
    for ax, ds in zip(axes[0], sets):
        for mode, cell in res["summary"][ds].items():
            i = order.index(mode)
            for kd, style in (("none", "--"), ("pmsc", "-"), ("pmsc-shapley", ":")):
                pts = [(float(o), c[kd]) for o, c in cell.items() if kd in c]
                if pts:
                    ax.plot(
                        *zip(*pts),
                        style,
                        marker="o",
                        color=colours[i % len(colours)],
                        label=f"{mode}, {KD_LABELS[kd]}",
                    )
        ax.set_title(ds)
        ax.set_xlabel("occlusion probability OP")
        ax.set_ylabel("top-1 (%)")
        ax.grid(alpha=0.3)
    handles = {h.get_label(): h for ax in axes[0] for h in ax.get_lines()}
    axes[0][-1].legend(handles.values(), handles.keys(), fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(f"{res['command']}\n{res['date']}, code {res['code_version']}", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """CLI: train (or reuse) each dataset's teacher and students; rewrite the results after every run."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", nargs="+", choices=sorted(RECIPES), default=["penn_action", "h36m"])
    ap.add_argument("--modes", nargs="+", choices=TRAINED_MODES, default=list(TRAINED_MODES))
    ap.add_argument("--ops", type=float, nargs="+", default=[0.0, 0.3, 0.6])
    add_seeds_arg(ap, [0])
    ap.add_argument("--kd", nargs="+", choices=KDS, default=list(KDS), help="which students to train")
    add_threads_arg(ap)
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "occlusion_protocol")
    add_save_arg(ap, RESULTS / "occlusion_protocol", help="write <SAVE>.json, <SAVE>.md and <SAVE>.png")
    ap.add_argument("--collect-only", action="store_true", help="train nothing; evaluate the finished runs")
    args = ap.parse_args(argv)

    set_threads(args.threads)
    from partkd.checkpoints import load_checkpoint, read_meta
    from partkd.engine.data import load_paired
    from partkd.engine.evaluate import evaluate
    from partkd.engine.reproduce import load_recipe
    from partkd.engine.student import train_student
    from partkd.engine.teacher import compute_part_matrix, train_teacher

    ops = sorted(set(args.ops) | {0.0})
    prov = provenance(argv)
    res: dict[str, Any] = {
        "command": prov.command,
        "date": prov.date,
        "code_version": prov.code_version,
        "machine": prov.machine,
        "ops": ops,
        DEFAULT_MODE_KEY: DEFAULT_OCCLUSION_MODE,
        "recipes": {d: str(RECIPES[d].relative_to(ROOT)) for d in args.datasets},
        "teachers": {},
        "test_clips": {},
        "records": [],
        "not_run": [],
    }
    runs = plan(args.datasets, args.modes, ops, args.seeds, tuple(args.kd))
    done: dict[str, dict[str, Any]] = {}
    trained: set[str] = set()

    def flush() -> None:
        res["records"] = sorted(done.values(), key=lambda r: (r["dataset"], r["mode"], r["kd"], r["op"], r["seed"]))
        names = [f"{r['dataset']}/{run_name(r)}" for r in runs]
        res["not_run"] = [n for n in names if n not in trained]
        res["summary"] = summary(res["records"], ops)
        publish(args.save, res, table_md(res))
        plot(res, output_path(args.save, ".png"))

    recipes = {d: load_recipe(RECIPES[d]) for d in args.datasets}
    data = {}
    teachers: dict[str, Path] = {}
    for ds, rec in recipes.items():
        data[ds] = load_paired(rec.data)
        res["test_clips"][ds] = len(data[ds].low.by_split("test"))
        tdir = args.work / ds / "teacher"
        if not (tdir / "model.safetensors").exists():
            if args.collect_only:
                continue
            train_teacher(rec.teacher, rec.data, tdir, resume=True)
        tpath = tdir / "model.safetensors"
        if "E" not in read_meta(tpath):
            compute_part_matrix(tpath, rec.data)
        teachers[ds] = tpath
        m = evaluate(load_checkpoint(tpath), data[ds].high.by_split("test"))
        res["teachers"][ds] = {"top1": 100 * m["top1"], "sha256": read_meta(tpath).get("weights_sha256")}
        print(f"{ds} teacher: top-1 {100 * m['top1']:.2f}", flush=True)

    def record(ds: str, mode: str, kd: str, op: float, seed: int, top1: float, n: int, **extra: Any) -> None:
        done[f"{ds}/{kd}_op{op:g}_{mode}_s{seed}"] = {
            "dataset": ds,
            "mode": mode,
            "kd": kd,
            "op": op,
            "seed": seed,
            "top1": top1,
            "n": n,
            **extra,
        }

    for r in runs:
        ds, rec = r["dataset"], recipes[r["dataset"]]
        if ds not in teachers:
            continue
        rdir = args.work / ds / "students" / run_name(r)
        t0 = time.time()
        if not (rdir / "model.safetensors").exists():
            if args.collect_only:
                continue
            method, efficiency, temperature = KD_VARIANTS[r["kd"]]
            scfg = replace(rec.variants[method], op=r["op"], occlusion=r["mode"], op_sampling="fixed")
            if efficiency is not None:
                scfg = replace(scfg, efficiency=efficiency, efficiency_temperature=temperature)
            train_student(replace(rec.student, seed=r["seed"]), scfg, teachers[ds], rec.data, rdir, resume=True)
        st = load_checkpoint(rdir / "model.safetensors")
        test = data[ds].low.by_split("test")
        test_modes = list(args.modes) if r["op"] == 0 else [r["mode"]]
        for mode in test_modes:
            for op in [o for o in ops if o > 0] if r["op"] == 0 else [r["op"]]:
                m = evaluate(st, test, op=op, mode=mode, seed=0)
                record(ds, mode if r["op"] > 0 else f"test-only:{mode}", r["kd"], op, r["seed"], m["top1"], len(test))
        if r["op"] == 0:
            m = evaluate(st, test, op=0.0, seed=0)
            for mode in args.modes:
                for name in (mode, f"test-only:{mode}"):
                    record(ds, name, r["kd"], 0.0, r["seed"], m["top1"], len(test))
        print(
            f"{ds}/{run_name(r)}: {time.time() - t0:.0f} s, "
            f"{read_meta(rdir / 'model.safetensors').get('weights_sha256', '')[:12]}",
            flush=True,
        )
        trained.add(f"{ds}/{run_name(r)}")
        flush()
    flush()
    print(table_md(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
