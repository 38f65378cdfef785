"""Copy a finished `partkd reproduce` run of an app recipe into checkpoints/ as the app's shipped models.

    python benchmarks/ship_checkpoints.py runs/app_default                      # the synthetic demo: checkpoints/
    python benchmarks/ship_checkpoints.py runs/penn_action_app --name penn_action   # checkpoints/penn_action/

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
from pathlib import Path

from harness import ROOT

SHIPPED = {"teacher": "teacher", "student_nokd": "students/none_op0.6_s0", "student_pmsc": "students/pmsc_op0.6_s0"}


def main(argv: list[str] | None = None) -> int:
    """CLI: copy the run's teacher and students into checkpoints/ and print their checksums."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="the reproduce output folder (runs/app_default)")
    ap.add_argument("--name", default=None, help="sub-folder of checkpoints/ (a real dataset's models)")
    ap.add_argument("--out", type=Path, default=ROOT / "checkpoints")
    args = ap.parse_args(argv)
    from partkd.io import atomic_write_bytes, atomic_write_json

    out = args.out / args.name if args.name else args.out
    rel = out.resolve().relative_to(ROOT) if out.resolve().is_relative_to(ROOT) else out.resolve()
    for name, sub in SHIPPED.items():
        src = args.run / sub
        meta = json.loads((src / "model.json").read_text())
        blob = (src / "model.safetensors").read_bytes()
        meta.update(name=name, weights=f"{name}.safetensors")
        if isinstance(meta.get("kd"), dict) and meta["kd"].get("teacher"):
            meta["kd"]["teacher"] = str(rel / "teacher.safetensors")
        atomic_write_bytes(out / f"{name}.safetensors", blob)
        atomic_write_json(out / f"{name}.json", meta)
        print(f"{name}: sha256 {hashlib.sha256(blob).hexdigest()}, {len(blob) / 1e6:.2f} MB")
    results = args.run / "results.json"
    if results.is_file():
        res = json.loads(results.read_text())
        print(f"teacher top-1 {100 * res['teacher']['top1']:.2f}")
        for row in res.get("students", []):
            print(f"{row.get('label')} OP {row.get('op')}: top-1 {100 * row.get('top1', float('nan')):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
