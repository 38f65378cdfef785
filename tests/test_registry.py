"""The one registry type and the contract every registry keeps: names listed without importing their entries, each
name resolving to its entry, one error naming the known entries for an unknown name, a name registered once."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from partkd.data.formats import FORMATS
from partkd.data.modalities import MODALITIES
from partkd.distill.definitions import EFFICIENCIES
from partkd.distill.explain import EXPLAINERS
from partkd.distill.methods import KD_METHODS
from partkd.engine.schema import opt, options
from partkd.errors import ConfigError, LayoutError
from partkd.layouts import BUILTIN
from partkd.models.registry import BACKBONES
from partkd.registry import Registry

REGISTRIES = {"backbone": BACKBONES, "KD method": KD_METHODS, "E definition": EFFICIENCIES,
              "explainer": EXPLAINERS, "format": FORMATS, "layout": BUILTIN, "modality": MODALITIES}


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registry_resolves_its_names_and_names_them_on_a_miss(kind: str) -> None:
    reg = REGISTRIES[kind]
    assert reg.kind == kind and len(reg) >= 3 and len(set(reg.names())) == len(reg)
    for name in reg.names():
        entry = reg.get(name)
        assert reg[name] is entry and name in reg
        assert getattr(entry, "name", name) == name          # an entry that carries a name carries its own
    with pytest.raises(reg.error) as err:
        reg.get("no-such-entry")
    assert f"unknown {kind} 'no-such-entry'" in str(err.value)
    assert all(name in str(err.value) for name in reg.names())
    with pytest.raises(reg.error, match="already registered"):
        reg.register(reg.names()[0], reg.get(reg.names()[0]))


def test_the_layout_registry_keeps_layout_errors() -> None:
    assert BUILTIN.error is LayoutError and issubclass(KD_METHODS.error, ConfigError)


def test_a_declared_entry_loads_on_first_use_and_a_decorator_fills_it() -> None:
    reg: Registry[object] = Registry("thing")
    reg.declare("path", "pathlib:PurePosixPath")
    assert reg.names() == ("path",) and reg._entries["path"] == "pathlib:PurePosixPath"
    from pathlib import PurePosixPath

    assert reg.get("path") is PurePosixPath
    later: Registry[object] = Registry("thing")
    later.declare("x", "no_such_module_anywhere:X")
    marker = object()
    assert later.decorator("x")(marker) is marker and later.get("x") is marker  # filled before any import
    assert later.decorator("y")(marker) is marker and later.names() == ("x", "y")


def test_config_choices_follow_the_registry_at_each_reading() -> None:
    reg: Registry[str] = Registry("colour")
    reg.register("red", "r")

    @dataclass
    class Paint:
        colour: str = opt("red", "the colour", choices=reg)

    assert options(Paint)[0].choices == ("red",)
    reg.register("blue", "b")
    assert options(Paint)[0].choices == ("red", "blue")


def test_importing_the_config_imports_no_format_module_and_no_torch() -> None:
    code = ("import sys, partkd.engine.config, partkd.engine.config as c\n"
            "from partkd.engine.schema import options\n"
            "assert options(c.DataSpec)[1].choices == tuple(c.FORMATS.names())\n"
            "bad = [m for m in sys.modules if m.startswith('partkd.data.formats.') or m == 'torch']\n"
            "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
