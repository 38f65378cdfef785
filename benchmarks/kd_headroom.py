"""How much of the teacher–student gap does PMSC close? Reads finished results (no training): per data set and OP the
gap (teacher on high-quality clips − the no-KD student on low-quality ones), PMSC's gain over no KD and the share of
the gap it recovers, beside the paper's Table 1.

    python benchmarks/kd_headroom.py                    # the shipped pairs, their seed files and protocol studies

Sources: checkpoints/<set>/results.json (shipped pairs, seed 0), benchmarks/results/seeds_*.json (a shipped recipe
over seeds, its teacher the shipped one), occlusion-protocol study files (students trained at each OP; `--study`) and
kd_real.py's Table 1 files that record their occlusion reading (`--table1`).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

from harness import RESULTS, ROOT, add_save_arg, md_head, md_table, provenance, publish

from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE
from partkd.paper import TABLE1
from partkd.paper import TABLE_OPS as OPS

#: Shipped sets: folder under checkpoints/ -> the data's name in the table.
SHIPPED = {"": "synthetic", "penn_action": "Penn Action", "nw_ucla": "NW-UCLA", "h36m": "Human3.6M"}
#: Seed files of the shipped recipes: file stem -> shipped folder whose teacher they distil.
SEED_FILES = {
    "seeds_app_default_seq": "",
    "seeds_penn_action_app": "penn_action",
    "seeds_nw_ucla_app_e20": "nw_ucla",
    "seeds_h36m_app_e20": "h36m",
    "seeds_nw_ucla_app_seq": "nw_ucla",
    "seeds_h36m_app_seq": "h36m",
    "seeds_h36m_app_seq_miss": "h36m",
    "seeds_penn_action_app_seq": "penn_action",
}
#: The occlusion study's PMSC students (benchmarks/occlusion_protocol.py KD_VARIANTS): kd -> its part weights.
STUDY_PMSC = {"pmsc": "miss-rate weights", "pmsc-shapley": "Shapley weights"}
STUDY_NAMES = {"penn_action": "Penn Action", "h36m": "Human3.6M", "nw_ucla": "NW-UCLA"}


def headroom(teacher: float, none: list[float], pmsc: list[float]) -> dict[str, list[float]]:
    """Per OP: the gap teacher − no KD, the gain PMSC − no KD and the share gain / gap of it (nan where no gap)."""
    gap = [teacher - n for n in none]
    gain = [p - n for p, n in zip(pmsc, none)]
    share = [g / d if d > 0 else float("nan") for g, d in zip(gain, gap)]
    return {"gap": gap, "gain": gain, "share": share}


def shipped_rows(root: Path) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """One row per shipped pair (seed 0) from its results.json, and each set's teacher top-1 at OP 0."""
    rows, teachers = [], {}
    for sub, name in SHIPPED.items():
        folder = root / "checkpoints" / sub
        try:
            doc = json.loads((folder / "results.json").read_text())
            sha = {
                n: json.loads((folder / f"{n}.json").read_text())["weights_sha256"]
                for n in ("teacher", "student_nokd", "student_pmsc")
            }
        except (OSError, ValueError, KeyError) as exc:
            print(f"kd_headroom: skipping checkpoints/{sub or '.'}: {exc}", file=sys.stderr)
            continue
        acc = {
            (r["key"]["weights"], r["key"]["op"]): 100 * r["value"]["top1"]
            for r in doc["records"]
            if r["key"]["what"] == "accuracy_at_op"
            and r["key"].get("mode") == DEFAULT_OCCLUSION_MODE
            and r["key"].get("seed") == 0
        }
        teachers[sub] = acc[(sha["teacher"], 0.0)]
        rows.append(
            {
                "data": name,
                "source": f"shipped pair, seed 0, {DEFAULT_OCCLUSION_MODE} (checkpoints/{sub or '.'})",
                "seeds": 1,
                "teacher": teachers[sub],
                "none": [acc[(sha["student_nokd"], op)] for op in OPS],
                "pmsc": [acc[(sha["student_pmsc"], op)] for op in OPS],
            }
        )
    return rows, teachers


def seed_source(doc: dict[str, Any], name: str) -> str:
    """A seed file's source label: its reading and the PMSC part weights it was made with (older files did not record
    them: the recipe shipped on their date)."""
    reading = doc.get("occlusion", "span")
    if doc.get("efficiency"):
        return f"shipped recipe, {reading}, PMSC {doc['efficiency'][0]} weights ({name})"
    return f"recipe shipped when made, {reading} ({name})"


def seed_rows(results: Path, teachers: dict[str, float]) -> list[dict[str, Any]]:
    """One row per seed file of a shipped recipe: the mean curves over its seeds, the shipped teacher."""
    rows = []
    for stem, sub in SEED_FILES.items():
        path = results / f"{stem}.json"
        if not path.is_file():
            continue
        if sub not in teachers:
            print(f"kd_headroom: skipping {path.name}: no shipped teacher in checkpoints/{sub}", file=sys.stderr)
            continue
        doc = json.loads(path.read_text())
        curves = doc["curves"]  # files without "occlusion" predate the key and were all made under `span`
        seeds = sorted(set(curves["none"]) & set(curves["pmsc"]))
        rows.append(
            {
                "data": SHIPPED[sub],
                "source": seed_source(doc, path.name),
                "seeds": len(seeds),
                "teacher": teachers[sub],
                **{kd: [statistics.fmean(c) for c in zip(*(curves[kd][s] for s in seeds))] for kd in ("none", "pmsc")},
            }
        )
    return rows


def study_rows(path: Path) -> list[dict[str, Any]]:
    """One row per data set, trained reading and PMSC variant of an occlusion-protocol study (students trained at
    each OP), mean over the seeds both students have at every OP."""
    doc = json.loads(path.read_text())
    rows = []
    modes = sorted({r["mode"] for r in doc["records"] if not r["mode"].startswith("test-only")})
    for (ds, teacher), mode, (kd, weights) in (
        (t, m, v) for t in doc["teachers"].items() for m in modes for v in STUDY_PMSC.items()
    ):
        recs = [r for r in doc["records"] if r["dataset"] == ds and r["mode"] == mode]
        by = {(r["kd"], r["op"], r["seed"]): 100 * r["top1"] for r in recs}
        seeds = sorted({s for (_, _, s) in by if all((k, op, s) in by for k in ("none", kd) for op in OPS)})
        if not seeds:
            continue
        rows.append(
            {
                "data": STUDY_NAMES.get(ds, ds),
                "source": f"trained at each OP, `{mode}`, PMSC {weights} ({path.name})",
                "seeds": len(seeds),
                "teacher": teacher["top1"],
                "none": [statistics.fmean(by[("none", op, s)] for s in seeds) for op in OPS],
                "pmsc": [statistics.fmean(by[(kd, op, s)] for s in seeds) for op in OPS],
            }
        )
    return rows


def table1_rows(path: Path) -> list[dict[str, Any]]:
    """The heterogeneous no-KD and PMSC rows of a kd_real.py result file (students trained at each OP, mean over
    seeds); none for a file that does not record its occlusion reading or lacks a row at one of the OPs."""
    doc = json.loads(path.read_text())
    if "occlusion" not in doc or not doc.get("teacher"):
        return []
    by = {(r["kd"], r["op"]): r for r in doc["students"] if r["setting"] == "heterogeneous"}
    if not all((kd, op) in by for kd in ("none", "pmsc") for op in OPS):
        return []
    name = STUDY_NAMES.get(doc["dataset"], doc["dataset"])
    return [
        {
            "data": name,
            "source": f"trained at each OP, `{doc['occlusion']}`, kd_real {doc['preset']} ({path.name})",
            "seeds": min(len(by[(kd, op)]["seeds"]) for kd in ("none", "pmsc") for op in OPS),
            "teacher": 100 * doc["teacher"]["top1"],
            **{kd: [100 * by[(kd, op)]["top1"] for op in OPS] for kd in ("none", "pmsc")},
        }
    ]


def paper_rows() -> list[dict[str, Any]]:
    """The paper's Table 1 as rows."""
    return [
        {
            "data": name,
            "source": "paper, Table 1",
            "seeds": None,
            "teacher": r.teacher,
            "none": list(r.nokd),
            "pmsc": list(r.pmsc),
        }
        for name, r in TABLE1.items()
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--study",
        type=Path,
        nargs="*",
        default=[RESULTS / "occlusion_protocol.json", RESULTS / "occlusion_protocol_penn_e20.json"],
        help="occlusion_protocol.py result files (students trained at each OP)",
    )
    ap.add_argument(
        "--table1",
        type=Path,
        nargs="*",
        default=[RESULTS / f"{d}.json" for d in ("penn_action_seq", "nw_ucla_seq", "h36m_seq", "h36m_seq_td0")],
        help="kd_real.py result files (students trained at each OP)",
    )
    add_save_arg(ap, RESULTS / "kd_headroom")
    args = ap.parse_args(argv)

    shipped, teachers = shipped_rows(ROOT)
    rows = shipped + seed_rows(RESULTS, teachers)
    for path in args.study:
        if path.is_file():
            rows += study_rows(path)
    for path in args.table1:
        if path.is_file():
            rows += table1_rows(path)
    ours = [{**r, **headroom(r["teacher"], r["none"], r["pmsc"])} for r in rows]
    paper = [{**r, **headroom(r["teacher"], r["none"], r["pmsc"])} for r in paper_rows()]

    def fmt(vals: list[float], sign: bool = False, pct: bool = False) -> str:
        if pct:
            return " / ".join("–" if math.isnan(v) else f"{100 * v:.0f} %" for v in vals)
        return " / ".join(f"{v:+.1f}" if sign else f"{v:.1f}" for v in vals)

    table = [
        [
            r["data"],
            r["source"],
            r["seeds"] or "",
            f"{r['teacher']:.1f}",
            fmt(r["none"]),
            fmt(r["gap"]),
            fmt(r["gain"], sign=True),
            fmt(r["share"], pct=True),
        ]
        for r in ours + paper
    ]
    prov = provenance(argv)
    md = [
        *md_head("PMSC's gain against the teacher–student gap", prov),
        "Gap: the teacher's top-1 on the high-quality test clips (OP 0) minus the no-KD student's on the low-quality "
        "ones at each OP; gain: PMSC − no KD; share: gain / gap. Top-1 %, OP 0 / 0.3 / 0.6.",
        "",
        md_table(["data", "source", "seeds", "teacher", "no KD", "gap", "PMSC gain", "share of the gap"], table),
        "",
        "The Human3.6M teacher is read on the 600 high-quality test clips, its students on 622 detection clips (24 "
        "solitary); the paper's numbers are its Table 1.",
        "",
    ]
    publish(args.save, {**prov.record(), "ops": OPS, "rows": ours, "paper": paper}, "\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
