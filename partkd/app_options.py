"""The app's launch options: one definition each, read from the command line (`partkd app …` or
`streamlit run app.py -- …`) and from an app TOML (`--config F`, else $PARTKD_APP_CONFIG) with the same keys."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields
from pathlib import Path

from partkd.engine.config import LOW_SOURCES, DataSpec
from partkd.engine.schema import option
from partkd.errors import ConfigError, where
from partkd.io import load_toml
from partkd.layouts import BUILTIN


@dataclass(frozen=True)
class AppOption:
    """One launch option: its TOML key, command-line flag, help and what it names."""

    key: str
    help: str
    kind: str  # "path" (file or folder), "folder", "layout" (a built-in name or a file)
    metavar: str = "PATH"
    field: str | None = None  # the DataSpec field it sets, for the data options

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


def _data_option(key: str, field: str, kind: str, metavar: str = "PATH") -> AppOption:
    """A launch option that opens the app on a DataSpec field: its help is the field's, from the config schema."""
    return AppOption(key, f"the app opens on it: {option(DataSpec, field).help}", kind, metavar, field)


APP_OPTIONS: tuple[AppOption, ...] = (
    _data_option("data", "source", "path"),
    _data_option("low", "low", "path"),
    _data_option("layout", "high_layout", "layout", "F"),
    _data_option("low_layout", "low_layout", "layout", "F"),
    AppOption("checkpoints", "a folder of your checkpoints, offered first in the pickers", "folder", "DIR"),
    AppOption(
        "data_root",
        "the folder whose datasets the sidebar lists by name (default $PARTKD_DATA, else ../shared/data, else ./data)",
        "folder",
        "DIR",
    ),
)
CONFIG_ENV = "PARTKD_APP_CONFIG"


@dataclass(frozen=True)
class AppSettings:
    """What the app was opened on (every field None = the defaults: synthetic data, shipped checkpoints)."""

    data: str | None = None
    low: str | None = None
    layout: str | None = None
    low_layout: str | None = None
    checkpoints: str | None = None
    data_root: str | None = None


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """The launch flags (and --config) on a parser, from APP_OPTIONS."""
    parser.add_argument("--config", metavar="F", help=f"an app TOML with these keys (default ${CONFIG_ENV})")
    for o in APP_OPTIONS:
        parser.add_argument(o.flag, dest=o.key, metavar=o.metavar, help=o.help)


def _checked(value: str, option: AppOption, base: Path, origin: str) -> str:
    """`value` as an absolute path (relative to `base`), checked to exist; a built-in layout name stays a name."""
    if (option.kind == "layout" and value in BUILTIN) or (option.field == "low" and value in LOW_SOURCES):
        return value
    path = (base / Path(value).expanduser()).resolve()
    what = f"{option.key} = {value}: " if origin != option.flag else ""
    if not path.exists():
        raise ConfigError(where(origin, f"{what}{path} does not exist"))
    if option.kind == "folder" and not path.is_dir():
        raise ConfigError(where(origin, f"{what}{path} is not a folder"))
    return str(path)


def read_app_config(path: str | Path) -> dict[str, str]:
    """The launch options of an app TOML (paths relative to its folder); unknown keys are a one-line ConfigError."""
    raw = load_toml(path)
    known = {o.key: o for o in APP_OPTIONS}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(where(path, f"unknown key(s) {', '.join(unknown)} (known: {', '.join(known)})"))
    out = {}
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(where(path, f"{key} must be a non-empty string (a path)"))
        out[key] = _checked(value, known[key], Path(path).resolve().parent, str(path))
    return out


def parse_app_args(argv: list[str], environ: dict[str, str] | None = None) -> AppSettings:
    """The settings of `argv` (the flags after `--`): the app TOML's keys, then the flags over them; --low and
    --low-layout need --data. Raises ConfigError with one line naming the flag or file."""
    parser = argparse.ArgumentParser(prog="app.py", add_help=False, exit_on_error=False)
    add_app_arguments(parser)
    try:
        args, extra = parser.parse_known_args(argv)
    except argparse.ArgumentError as e:
        raise ConfigError(f"app options: {e}") from None
    if extra:
        raise ConfigError(f"app options: unknown argument(s) {' '.join(extra)}")
    env = os.environ if environ is None else environ
    config = args.config or env.get(CONFIG_ENV)
    values: dict[str, str] = read_app_config(config) if config else {}
    for o in APP_OPTIONS:
        flag_value = getattr(args, o.key)
        if flag_value is not None:
            values[o.key] = _checked(flag_value, o, Path.cwd(), o.flag)
    if ("low" in values or "low_layout" in values) and "data" not in values:
        raise ConfigError("app options: --low and --low-layout describe the low-quality half of --data; give --data")
    names = {f.name for f in fields(AppSettings)}
    return AppSettings(**{k: v for k, v in values.items() if k in names})


def app_argv(settings: AppSettings) -> list[str]:
    """The flags that reopen the app on `settings` (for `partkd app` to pass after `--`)."""
    out = []
    for o in APP_OPTIONS:
        value = getattr(settings, o.key)
        if value is not None:
            out += [o.flag, value]
    return out


def spec_fields(settings: AppSettings) -> dict[str, str]:
    """The DataSpec fields (source, low, high_layout, low_layout) the launch settings set."""
    return {o.field: getattr(settings, o.key) for o in APP_OPTIONS if o.field and getattr(settings, o.key)}
