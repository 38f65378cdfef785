"""A validation split carved from the training subjects, for choosing recipes without reading the test split.

The carved clips take the test split's place (split 'test') and the real test clips are dropped, so every reader of
the test split (the per-epoch check, evaluate, E, the app) reads the validation split instead. Clips are grouped by
subject where every clip name carries one (s07, S11, a01_s03_...), else by pair id; whole groups are held out."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from partkd.data.dataset import NO_PAIR, PairedDataset, SkeletonDataset
from partkd.errors import DataError, where

#: A subject token in a clip name: 's07' in 'wave_s07_0007', 'S11' in 'S11/Walking.54138969/w000', the performer
#: 'P008' in NTU's 'S001C002P008R001A010'.
SUBJECT = re.compile(r"(?:^|[_/])[sS](\d+)(?=[_/.]|$)|S\d{3}C\d{3}P(\d{3})R\d{3}A\d{3}")


def group_keys(ds: SkeletonDataset) -> np.ndarray:
    """(N,) the group each clip is held out with: its subject where every name has one, else its pair id."""
    found = [SUBJECT.search(n) for n in ds.names]
    if found and all(found):
        return np.array([f"s{int(m.group(1) or m.group(2))}" for m in found if m])
    return np.array([f"p{p}" if p != NO_PAIR else f"c{i}" for i, p in enumerate(ds.pair_ids)])


def held_out_groups(keys: np.ndarray, train: np.ndarray, share: float, seed: int, source: str) -> set[str]:
    """round(share × groups) of the training groups (at least one, never all), drawn with the data seed."""
    groups = np.unique(keys[train])
    if len(groups) < 2:
        raise DataError(where(source, f"{len(groups)} training group(s): a validation split needs two or more"))
    n = min(len(groups) - 1, max(1, round(share * len(groups))))
    rng = np.random.default_rng([int(seed), 0x7A1])
    return {str(g) for g in rng.choice(groups, n, replace=False)}


def _carve(ds: SkeletonDataset, keys: np.ndarray, held: set[str], share: float) -> SkeletonDataset:
    train = ds.split == "train"
    keep = np.flatnonzero(train)
    val = np.isin(keys[keep], sorted(held))
    meta = {**ds.meta, "validation": {"share": share, "groups": sorted(held), "clips": int(val.sum())}}
    return replace(ds.subset(keep), split=np.where(val, "test", "train"), meta=meta)


def carve_validation(ds: SkeletonDataset, share: float, seed: int) -> SkeletonDataset:
    """The training clips only, with whole groups of them (share of the groups) marked as the 'test' split."""
    keys = group_keys(ds)
    held = held_out_groups(keys, ds.split == "train", share, seed, str(ds.meta.get("source", "dataset")))
    return _carve(ds, keys, held, share)


def carve_validation_pair(data: PairedDataset, share: float, seed: int) -> PairedDataset:
    """carve_validation of both sides with one choice of groups; a low clip goes with its high clip's group."""
    high_keys = group_keys(data.high)
    held = held_out_groups(
        high_keys, data.high.split == "train", share, seed, str(data.high.meta.get("source", "dataset"))
    )
    at = data.high_index_of_low()
    low_keys = np.where(at >= 0, high_keys[np.maximum(at, 0)], group_keys(data.low))
    return PairedDataset(_carve(data.high, high_keys, held, share), _carve(data.low, low_keys, held, share))
