"""A run config: one TOML file that fully describes a train-teacher or train-student run ([data], [train] with its
preset, [student], `teacher`), written resolved by the app and read by the CLI's --config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from partkd.engine.config import DataSpec, StudentConfig, TrainConfig, spec_dict, to_dict
from partkd.errors import ConfigError, where
from partkd.io import atomic_write_text, load_toml

#: The tables (and top-level keys) each run kind reads.
RUN_KINDS: dict[str, tuple[str, ...]] = {
    "train-teacher": ("data", "train"),
    "train-student": ("data", "train", "student", "teacher"),
}


def _no_none(d: dict[str, Any]) -> dict[str, Any]:
    """TOML has no null: unset (None) values are left out, which reads back as the same default."""
    return {k: v for k, v in d.items() if v is not None}


def run_config(
    kind: str,
    spec: DataSpec,
    train: TrainConfig,
    student: StudentConfig | None = None,
    teacher: str | None = None,
) -> dict[str, Any]:
    """The resolved run config of a `kind` run: every value written out, so the file alone reproduces the run."""
    if kind not in RUN_KINDS:
        raise ConfigError(where("run config", f"unknown run kind '{kind}' ({', '.join(RUN_KINDS)})"))
    out: dict[str, Any] = {"kind": kind}
    if kind == "train-student" and teacher:
        out["teacher"] = str(Path(teacher).expanduser().resolve())
    out["data"], out["train"] = _no_none(spec_dict(spec)), _no_none(to_dict(train))
    if kind == "train-student":
        out["student"] = to_dict(student or StudentConfig())
    return out


def dumps(config: dict[str, Any]) -> str:
    """The TOML text of a run config."""
    return f"# partkd run config: partkd {config['kind']} --config FILE --out DIR\n" + tomli_w.dumps(config)


def write_run_config(path: Path | str, config: dict[str, Any]) -> Path:
    """Write a run config atomically; returns its path."""
    atomic_write_text(path, dumps(config))
    return Path(path)


def read_run_config(path: Path | str, kind: str) -> dict[str, Any]:
    """A run config's tables for a `kind` run; unknown keys, a table of the wrong type or another kind's file are
    one ConfigError naming the file."""
    raw = load_toml(path)
    stated = raw.pop("kind", kind)
    if stated != kind:
        raise ConfigError(where(path, f"is a run config for {stated}, not {kind}"))
    unknown = sorted(set(raw) - set(RUN_KINDS[kind]))
    if unknown:
        raise ConfigError(
            where(path, f"unknown key(s) {', '.join(unknown)} for {kind} (known: {', '.join(RUN_KINDS[kind])})")
        )
    for key, value in raw.items():
        if key != "teacher" and not isinstance(value, dict):
            raise ConfigError(where(path, f"[{key}] must be a table"))
    if "teacher" in raw and not isinstance(raw["teacher"], str):
        raise ConfigError(where(path, "teacher must be a checkpoint path"))
    return raw


__all__ = ["RUN_KINDS", "dumps", "read_run_config", "run_config", "write_run_config"]
