"""Evaluation results kept by what produced them (question, weights sha256, role, data, occlusion protocol): the
portable key, and the `results.json` shipped beside checkpoints so that their pages need no computation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from partkd.engine.config import LOW_SOURCES, DataSpec, spec_dict
from partkd.io import atomic_write_json

#: The file of precomputed results beside a folder of checkpoints.
RESULTS_FILE = "results.json"
#: Bump when the meaning of a stored value changes, so older files are not read.
RESULTS_VERSION = 1


def portable_data(spec: DataSpec) -> dict[str, Any]:
    """The spec as stored in checkpoints with every path cut to its last component, so that a key made on one
    machine is found on another (the weights sha256 beside it tells the datasets of one name apart)."""
    out = spec_dict(spec)
    if not spec.is_synthetic:
        out["source"] = Path(spec.source).name
    if spec.low not in LOW_SOURCES:
        out["low"] = Path(spec.low).name
    for key in ("high_layout", "low_layout"):
        if isinstance(out.get(key), str) and out[key].endswith((".json", ".toml")):
            out[key] = Path(out[key]).name
    return out


def result_key(what: str, weights: str, role: str, spec: DataSpec, **protocol: object) -> dict[str, Any]:
    """The key of one result: the question, the weights sha256, the checkpoint's role, the data and the protocol
    (op, mode, seed, ... as given)."""
    return {"what": what, "weights": weights, "role": role, "data": portable_data(spec), **protocol}


def key_text(key: dict[str, Any]) -> str:
    """A key as one canonical string."""
    return json.dumps(key, sort_keys=True, default=str)


def read_results(folder: str | Path) -> dict[str, Any]:
    """{key_text: value} of the `results.json` in `folder`; empty when there is none, it is unreadable or of another
    version (a missing or stale file only costs a computation)."""
    try:
        doc = json.loads((Path(folder) / RESULTS_FILE).read_text())
        if doc.get("version") != RESULTS_VERSION:
            return {}
        return {key_text(r["key"]): r["value"] for r in doc["records"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def write_results(folder: str | Path, records: list[dict[str, Any]], provenance: dict[str, Any]) -> Path:
    """Write `records` ({key, value} each) and what produced them to `folder`/results.json, atomically."""
    path = Path(folder) / RESULTS_FILE
    atomic_write_json(path, {"version": RESULTS_VERSION, **provenance, "records": records})
    return path


__all__ = ["RESULTS_FILE", "key_text", "portable_data", "read_results", "result_key", "write_results"]
