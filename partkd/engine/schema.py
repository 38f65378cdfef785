"""Each config option is defined once, in its dataclass field's metadata (help, choices, limits, flag, form label);
the CLI flags, the app's Train form and the limit checks of every config are generated from it."""

from __future__ import annotations

import argparse
import dataclasses
import json
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
    aliases: tuple[str, ...] = ()  # further spellings of the flag
    dest: str = ""  # the argparse attribute (default: the field name); unique across a command's configs
    item: type = int  # the element type of a tuple option (str items may also be given comma-separated)
    synthetic_only: bool = False  # a DataSpec field only the synthetic generator reads
    degradation: bool = False  # a DataSpec field saying how L is made from H (kept when --data names other files)

    @property
    def attr(self) -> str:
        return self.dest or self.name

    @property
    def flags(self) -> tuple[str, ...]:
        return (self.flag, *self.aliases)

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
        """ConfigError naming the field when `value` is not one of the choices or outside the limits (None: unset)."""
        if value is None:
            return
        if isinstance(value, tuple):
            for v in value:
                self.check(v, source)
            return
        if self.choices is not None and value not in self.choices:
            raise ConfigError(where(f"{source}.{self.name}", f"'{value}' is not one of {', '.join(self.choices)}"))
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        bad = (self.low is not None and (value <= self.low if self.low_open else value < self.low)) or (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )
        if bad:
            raise ConfigError(where(f"{source}.{self.name}", f"must be {self.limits()}, got {value}"))


def opt(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field carrying its Option metadata (keyword arguments as Option's, minus name and default;
    `flags=(primary, alias, ...)` spells several); a dict default becomes a fresh copy per instance."""
    meta = {KEY: {"help": help, **spec}}
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def default_of(f: dataclasses.Field) -> Any:
    """A dataclass field's default value (a fresh one for a default factory)."""
    if f.default is dataclasses.MISSING and f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


def options(cls: type) -> list[Option]:
    """The Options of a config dataclass, in field order (fields without metadata are internal)."""
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(KEY)
        if meta is None:
            continue
        spec = dict(meta)
        if hasattr(spec.get("choices"), "names"):  # a registry: its names now, so later registrations count
            spec["choices"] = tuple(spec["choices"].names())
        flags = spec.pop("flags", (spec.pop("flag", "--" + f.name.replace("_", "-")),))
        label = spec.pop("label", f.name.replace("_", " "))
        out.append(Option(f.name, default_of(f), flag=flags[0], aliases=tuple(flags[1:]), label=label, **spec))
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
            group.add_argument(*o.flags, dest=o.attr, action="store_const", const=not o.negate, default=None, help=text)
            continue
        if o.kind is tuple:
            meta = "N" if o.item is int else "X" if o.item is float else "NAME"
            text += f"; any of {', '.join(o.choices)}, space- or comma-separated" if o.choices else ""
            group.add_argument(*o.flags, dest=o.attr, nargs="*", default=None, metavar=meta, help=text)
            continue
        if o.kind is dict:
            group.add_argument(*o.flags, dest=o.attr, action="append", default=None, metavar="KEY=VALUE", help=text)
            continue
        default = f"; {default_note}" if default_note else "" if o.default is None else f"; default {o.default}"
        group.add_argument(
            *o.flags,
            dest=o.attr,
            type=o.kind if o.kind in (int, float) else str,
            choices=list(o.choices) if o.choices else None,
            default=None,
            help=f"{text}{default}",
        )


def given(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The option values set on the command line (flags left at None are the config's defaults; KEY=VALUE lists
    become dicts, values read as JSON when they parse)."""
    out: dict[str, Any] = {}
    for o in options(cls):
        value = getattr(args, o.attr, None)
        if value is None:
            continue
        if o.kind is tuple:
            value = [_item(o, part) for v in value for part in str(v).split(",") if part]
        out[o.name] = parse_options(value) if o.kind is dict else tuple(value) if isinstance(value, list) else value
    return out


def _item(o: Option, text: str) -> Any:
    """One element of a list flag (space- or comma-separated) as the option's item type; ConfigError otherwise."""
    try:
        return o.item(text)
    except ValueError:
        kind = {int: "an integer", float: "a number"}.get(o.item, o.item.__name__)
        raise ConfigError(f"{o.flag}: '{text}' is not {kind}") from None


def parse_options(pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE strings to a dict; values are read as JSON when they parse, else kept as strings."""

    parsed: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"option '{pair}' is not KEY=VALUE")
        try:
            parsed[key] = json.loads(value)
        except ValueError:
            parsed[key] = value
    return parsed


__all__ = ["Option", "add_flags", "check_limits", "default_of", "given", "opt", "option", "options", "parse_options"]
