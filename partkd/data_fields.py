"""A data choice as plain DataSpec fields (what the app's sidebar picks): its DataSpec, its one-line description,
whether its low-quality half is real, and whether it is the data a teacher was trained on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from partkd.engine.config import DataSpec, data_spec_from_dict, to_dict
from partkd.errors import PartKDError

#: A DataSpec field's value as the app keeps it: a TOML scalar, or the loader options' table.
FieldValue = str | int | float | bool | None | dict[str, object]
#: DataSpec fields as sorted (name, value) pairs: hashable, so a data choice can key a cache.
DataFields = tuple[tuple[str, FieldValue], ...]
#: The fields that name the synthetic generator's data (the rest of a synthetic spec is how L is made).
SYNTHETIC_KEYS: tuple[str, ...] = (
    "source",
    "num_classes",
    "clips_per_class",
    "synth_frames",
    "synth_motion",
    "seed",
    "validation",
)
#: The fields that name a dataset on disk besides its path.
DATASET_KEYS: tuple[str, ...] = ("high_layout", "high_source", "options", "validation")


def as_fields(fields: Mapping[str, FieldValue]) -> DataFields:
    """The fields as sorted (name, value) pairs."""
    return tuple(sorted(fields.items(), key=lambda item: item[0]))


def spec_of(fields: Mapping[str, FieldValue], source: str = "app data") -> DataSpec:
    """The DataSpec the fields describe (ConfigError, naming `source`, when they do not make one)."""
    return data_spec_from_dict(dict(fields), source)


def describe_data(fields: Mapping[str, FieldValue]) -> str:
    """One line describing the data, or the one-line error when the fields make no DataSpec."""
    try:
        return spec_of(fields).describe()
    except PartKDError as e:
        return str(e)


def is_real_low(fields: Mapping[str, FieldValue]) -> bool:
    """True when the low-quality half is real data (the format's own or a file), not simulated from the high one."""
    return fields.get("low", "simulate") != "simulate"


def data_matches(teacher_meta: Mapping[str, object], fields: Mapping[str, FieldValue]) -> bool:
    """Whether `fields` name the data the teacher was trained on (where its stored E was computed): the same
    generator settings for synthetic data, else the same dataset path, high-quality layout, source and options."""
    stored = teacher_meta.get("data")
    if not isinstance(stored, dict):
        return False
    try:
        mine, theirs = to_dict(spec_of(fields)), to_dict(spec_of(stored, "teacher data"))
    except PartKDError:
        return False
    if mine["source"] == "synthetic" or theirs["source"] == "synthetic":
        return all(mine.get(k) == theirs.get(k) for k in SYNTHETIC_KEYS)
    same = Path(mine["source"]).resolve() == Path(theirs["source"]).resolve()
    return same and all(mine.get(k) == theirs.get(k) for k in DATASET_KEYS)
