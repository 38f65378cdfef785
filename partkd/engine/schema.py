"""Each config option is defined once, in its dataclass field's metadata (help, choices, limits, flag, form label);
the CLI flags, the app's Train form and the limit checks of every config are generated from it."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import Any

from partkd.errors import ConfigError, where

KEY = "option"


@dataclass(frozen=True)
class Option:
    """One config field as a user sees it: its flag, help, choices and closed / open numeric limits."""

    name: str
    default: Any
    help: str
    flag: str
    label: str
    choices: tuple[str, ...] | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    step: float | None = None
    negate: bool = False  # a boolean whose flag turns it off (use_solitary: --no-solitary)

    @property
    def kind(self) -> type:
        return type(self.default)

    def limits(self) -> str:
        """The allowed range in words, e.g. 'in [0, 1]' or '> 0' ('' when unlimited)."""
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return ""

    def check(self, value: Any, source: object) -> None:
        """ConfigError naming the field when `value` is not one of the choices or outside the limits."""
        if self.choices is not None and value not in self.choices:
            raise ConfigError(where(f"{source}.{self.name}", f"'{value}' is not one of {', '.join(self.choices)}"))
        if isinstance(value, tuple):
            for v in value:
                self.check(v, source)
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        bad = (self.low is not None and (value <= self.low if self.low_open else value < self.low)) or (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )
        if bad:
            raise ConfigError(where(f"{source}.{self.name}", f"must be {self.limits()}, got {value}"))


def opt(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field carrying its Option metadata (keyword arguments as Option's, minus name and default)."""
    return dataclasses.field(default=default, metadata={KEY: {"help": help, **spec}})


def options(cls: type) -> list[Option]:
    """The Options of a config dataclass, in field order (fields without metadata are internal)."""
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(KEY)
        if meta is None:
            continue
        spec = dict(meta)
        flag = spec.pop("flag", "--" + f.name.replace("_", "-"))
        label = spec.pop("label", f.name.replace("_", " "))
        out.append(Option(f.name, f.default, flag=flag, label=label, **spec))
    return out


def option(cls: type, name: str) -> Option:
    """One field's Option."""
    return next(o for o in options(cls) if o.name == name)


def check_limits(obj: Any, source: object) -> None:
    """Check every option field of a config instance against its choices and limits."""
    for o in options(type(obj)):
        o.check(getattr(obj, o.name), source)


def add_flags(
    group: Any,
    cls: type,
    names: list[str] | None = None,
    exclude: tuple[str, ...] = (),
    default_note: str | None = None,
) -> None:
    """argparse flags for the options of `cls` (all, or `names`, minus `exclude`), each defaulting to None (the
    config's own); `default_note` replaces the printed default where a preset sets it (TrainConfig)."""
    for o in options(cls):
        if (names is not None and o.name not in names) or o.name in exclude:
            continue
        text = o.help + (f" ({o.limits()})" if o.limits() else "")
        if o.kind is bool:
            group.add_argument(o.flag, dest=o.name, action="store_const", const=not o.negate, default=None, help=text)
            continue
        if o.kind is tuple:
            group.add_argument(o.flag, dest=o.name, type=int, nargs="*", default=None, metavar="N", help=text)
            continue
        default = f"; {default_note}" if default_note else "" if o.default is None else f"; default {o.default}"
        group.add_argument(
            o.flag,
            dest=o.name,
            type=o.kind if o.kind in (int, float) else str,
            choices=list(o.choices) if o.choices else None,
            default=None,
            help=f"{text}{default}",
        )


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The option values set on the command line (flags left at None are the config's defaults)."""
    out = {o.name: getattr(args, o.name) for o in options(cls) if getattr(args, o.name, None) is not None}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in out.items()}


__all__ = ["Option", "add_flags", "check_limits", "given", "opt", "option", "options"]
