"""The Robustness page's numbers for a set of checkpoints, computed once and shipped beside them: accuracy at each
occlusion level and the per-part sensitivity, as records of partkd.results_store."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from partkd.checkpoints import load_checkpoint
from partkd.engine.config import DataSpec
from partkd.engine.data import load_paired
from partkd.engine.evaluate import accuracy_vs_op, data_side, part_sensitivity, weights_key
from partkd.results_store import result_key


def robustness_records(
    checkpoints: Mapping[str, str | Path], spec: DataSpec, ops: list[float], modes: list[str], seed: int
) -> list[dict[str, Any]]:
    """{key, value} records of each checkpoint's top-1/top-5 at every OP under each occlusion mode (one draw per
    mode and `seed`) and of its top-1 drop with each part removed, on the test split of `spec`; the keys the app
    looks up."""
    data = load_paired(spec)
    records: list[dict[str, Any]] = []
    for path in checkpoints.values():
        loaded = load_checkpoint(path)
        test = data_side(loaded, data).by_split("test")
        sha = weights_key(loaded)
        for mode in modes:
            for row in accuracy_vs_op(loaded, test, ops, seed, mode):
                key = result_key("accuracy_at_op", sha, loaded.role, spec, op=float(row["op"]), mode=mode, seed=seed)
                records.append({"key": key, "value": row})
        drops = part_sensitivity(loaded, test).tolist()
        records.append({"key": result_key("part_sensitivity", sha, loaded.role, spec), "value": drops})
    return records


__all__ = ["robustness_records"]
