"""Copy a finished `partkd reproduce` run of an app recipe into checkpoints/ as the app's shipped models, and
precompute their Robustness numbers (results.json beside them).

    python benchmarks/ship_checkpoints.py runs/app_default                      # the synthetic demo: checkpoints/
    python benchmarks/ship_checkpoints.py runs/penn_action_app --name penn_action   # checkpoints/penn_action/
    python benchmarks/ship_checkpoints.py --results-only --name penn_action     # checkpoints/penn_action/results.json

teacher/model.* -> teacher.*, students/none_op0.6_s0/model.* -> student_nokd.*, students/pmsc_op0.6_s0/model.* ->
student_pmsc.*; only `name`, `weights` and the students' `kd.teacher` (the shipped teacher, relative to the
repository) change in the JSON, so the weights and their sha256 are the run's. Prints each file's sha256, size and
the run's test top-1 (results.json).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from harness import ROOT, add_threads_arg, provenance, set_threads

SHIPPED = {"teacher": "teacher", "student_nokd": "students/none_op0.6_s0", "student_pmsc": "students/pmsc_op0.6_s0"}


def ship(run: Path, out: Path) -> None:
    """Copy the run's teacher and students into `out` and print their checksums and the run's test top-1."""
    from partkd.io import atomic_write_bytes, atomic_write_json

    rel = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out.resolve()
    for name, sub in SHIPPED.items():
        src = run / sub
        meta = json.loads((src / "model.json").read_text())
        blob = (src / "model.safetensors").read_bytes()
        meta.update(name=name, weights=f"{name}.safetensors")
        if isinstance(meta.get("kd"), dict) and meta["kd"].get("teacher"):
            meta["kd"]["teacher"] = str(rel / "teacher.safetensors")
        atomic_write_bytes(out / f"{name}.safetensors", blob)
        atomic_write_json(out / f"{name}.json", meta)
        print(f"{name}: sha256 {hashlib.sha256(blob).hexdigest()}, {len(blob) / 1e6:.2f} MB")
    results = run / "results.json"
    if results.is_file():
        res = json.loads(results.read_text())
        print(f"teacher top-1 {100 * res['teacher']['top1']:.2f}")
        for row in res.get("students", []):
            print(f"{row.get('label')} OP {row.get('op')}: top-1 {100 * row.get('top1', float('nan')):.2f}")


def precompute(out: Path, modes: list[str], seed: int, argv: list[str] | None) -> None:
    """Write out/results.json: every shipped model's accuracy at the Robustness page's OPs under each mode and its
    per-part sensitivity, on the data its students were trained on (the app reads these instead of computing)."""
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.robustness import robustness_records
    from partkd.paper import TABLE_OPS
    from partkd.report import CURVE_OPS
    from partkd.results_store import write_results

    student = json.loads((out / "student_pmsc.json").read_text())
    spec = data_spec_from_dict(student["data"], out / "student_pmsc.json")
    models = {name: out / f"{name}.safetensors" for name in SHIPPED}
    ops = sorted(set(CURVE_OPS) | set(TABLE_OPS))
    started = time.time()
    records = robustness_records(models, spec, ops, modes, seed)
    print(f"{out.name}: {', '.join(modes)} curves of {len(models)} models in {time.time() - started:.0f} s")
    prov = provenance(argv)
    path = write_results(out, records, {"provenance": prov.record(), "modes": modes, "seed": seed, "ops": ops})
    print(f"{path}: {len(records)} records")


def main(argv: list[str] | None = None) -> int:
    """CLI: copy a run's models into checkpoints/ and precompute their Robustness numbers."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, nargs="?", help="the reproduce output folder (runs/app_default)")
    ap.add_argument("--name", default=None, help="sub-folder of checkpoints/ (a real dataset's models)")
    ap.add_argument("--out", type=Path, default=ROOT / "checkpoints")
    ap.add_argument("--results-only", action="store_true", help="only (re)write the shipped models' results.json")
    ap.add_argument("--modes", nargs="+", default=None, help="occlusion modes to precompute (default: the engine's)")
    ap.add_argument("--seed", type=int, default=0, help="occlusion seed (the app's default)")
    add_threads_arg(ap)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    out = args.out / args.name if args.name else args.out
    if not args.results_only:
        if args.run is None:
            ap.error("give the run folder, or --results-only")
        ship(args.run, out)
    from partkd.engine.config import StudentConfig
    from partkd.engine.schema import option

    modes = args.modes or [option(StudentConfig, "occlusion").default]
    precompute(out, modes, args.seed, argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
