"""Contracts every registered backbone and KD method keeps: a new entry in a registry is tested here
without writing a test of its own."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from partkd.checkpoints import load_checkpoint, model_meta, save_checkpoint
from partkd.distill.methods import KD_METHODS, KDBatch, TeacherSide, get_method
from partkd.distill.parts import part_features, persons_present
from partkd.errors import ConfigError
from partkd.layouts import BUILTIN, PARTS
from partkd.models import BACKBONES, build_model, resolve_config, to_model_input

TINY = {"channels": (8, 16), "strides": (1, 2), "temporal_kernel": 3}


def tiny(arch: str, layout: str, classes: int = 4, persons: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(arch, layout, classes, replace(resolve_config(arch, "tiny"), **TINY, persons=persons))


@pytest.mark.parametrize("layout", sorted(BUILTIN))
@pytest.mark.parametrize("arch", BACKBONES.names())
def test_backbone_contract(arch: str, layout: str, tmp_path: Path) -> None:
    lay = BUILTIN[layout]
    model = tiny(arch, layout).eval()
    x = torch.randn(3, 2, 12, lay.num_joints, 3)
    x[1, 1] = 0.0                                               # clip 1 has one person only
    with torch.no_grad():
        logits, z = model(to_model_input(x))
    assert logits.shape == (3, 4) and z.shape == (3 * 2, 16, 6, lay.num_joints)  # (N·M, C', T / 2, V)
    f = part_features(z, lay, 2, persons_present(x))
    assert f.shape == (3, len(PARTS), 16) and torch.isfinite(f).all()
    meta = {"role": "student", "layout": lay.to_dict(), "class_names": ["a", "b", "c", "d"],
            "model": model_meta(model.config, 4), "input": {"frames": 12, "persons": 2, "mode": "pad"}}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m", model, meta))
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(to_model_input(x))[0], logits)


def _batch(method_name: str, seed: int = 0) -> tuple[KDBatch, torch.nn.Module]:
    """A student step on coco17 against a same-layout teacher, every clip paired, with an H batch."""
    lay = BUILTIN["coco17"]
    gen = torch.Generator().manual_seed(seed)
    student, teacher = tiny("stgcn", "coco17", persons=1), tiny("stgcn", "coco17", persons=1).eval()
    x = torch.randn(4, 1, 12, lay.num_joints, 3, generator=gen)
    xh = torch.randn(6, 1, 12, lay.num_joints, 3, generator=gen)
    y, y_pool = torch.tensor([0, 1, 0, 1]), torch.tensor([0, 1, 0, 1, 2, 3])
    with torch.no_grad():
        lg_t, z_t = teacher(to_model_input(xh))
    side = TeacherSide(teacher, lay, y_pool, part_features(z_t, lay, 1), z_t.mean(dim=(2, 3)), lg_t, xh.numpy())
    logits, z = student(to_model_input(x))
    method = get_method(method_name)
    from partkd.engine.config import StudentConfig

    cfg = StudentConfig(tau=0.1, w=0.5, kl_temperature=4.0)
    high = torch.tensor([0, 1, 2, 3]) if method.high_batch else None
    own_in = torch.tensor([0, 1, 2, 3]) if method.high_batch else None
    eff = torch.full((4, 5), 0.2)
    return KDBatch(x, z, logits, y, np.array([0, 1, 2, 3]), high, own_in, side, lay, eff, cfg, False), student


@pytest.mark.parametrize("name", list(KD_METHODS))
def test_kd_method_contract(name: str) -> None:
    method = get_method(name)
    batch, student = _batch(name)
    loss = method.loss(batch)
    assert loss.dim() == 0 and torch.isfinite(loss)
    if name == "none":
        assert float(loss.detach()) == 0.0 and not method.needs_teacher
        return
    assert method.needs_teacher and float(loss) != 0.0
    loss.backward()                                              # the loss trains the student ...
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in student.parameters())
    unpaired, _ = _batch(name)
    unpaired.own = np.full(4, -1)
    if not method.high_batch:                                    # ... and needs pairs when it reads the clips' own H
        assert float(method.loss(unpaired)) == 0.0


def test_partkd_imports_no_streamlit() -> None:
    """The library (engine, CLI, figures) stands alone; only the app package (partkd_app) needs Streamlit."""
    import subprocess
    import sys

    code = ("import importlib, pkgutil, sys, partkd\n"
            "for m in pkgutil.walk_packages(partkd.__path__, 'partkd.'):\n"
            "    if m.name != 'partkd.__main__':\n"
            "        importlib.import_module(m.name)\n"
            "assert 'streamlit' not in sys.modules, 'partkd imported streamlit'\n"
            "import partkd_app.state\n"
            "assert 'streamlit' in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("section, command", [("student", "train-student"), ("data", "train-teacher"),
                                              ("data", "evaluate"), ("train", "train-teacher")])
def test_options_are_defined_once_and_generate_the_cli_flags(section: str, command: str) -> None:
    """Help, choices and limits live in the config's field metadata; the commands' flags are made from it, and one
    step past each limit is refused by name."""
    from partkd.cli import build_parser
    from partkd.engine import config
    from partkd.engine.schema import options

    cls, build = {"student": (config.StudentConfig, config.student_config_from_dict),
                  "data": (config.DataSpec, config.data_spec_from_dict),
                  "train": (config.TrainConfig, config.train_config_from_dict)}[section]
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    actions = {s: a for a in sub.choices[command]._actions for s in a.option_strings}
    for o in options(cls):
        for flag in o.flags:
            action = actions[flag]
            assert action.help.startswith(o.help) and action.default is None and action.dest == o.attr, o.name
        if o.choices and o.kind is tuple:                        # a list flag (--modalities j,b) names its choices
            assert f"any of {', '.join(o.choices)}" in actions[o.flag].help
        elif o.choices:
            assert tuple(actions[o.flag].choices) == o.choices
        if isinstance(o.default, bool) or not isinstance(o.default, int | float):
            continue
        for limit, is_open, step in ((o.low, o.low_open, -1), (o.high, o.high_open, 1)):
            if limit is not None:
                past = limit if is_open else limit + step
                with pytest.raises(ConfigError, match=f"{section}.{o.name}: must be"):
                    build({o.name: type(o.default)(past)})


def _subparsers() -> dict:
    from partkd.cli import build_parser

    out = {}
    todo = [("", build_parser())]
    while todo:
        name, parser = todo.pop()
        for action in parser._actions:
            if action.dest in ("command", "data_command", "jobs_command") and action.choices:
                todo += [(f"{name} {k}".strip(), p) for k, p in action.choices.items()]
        out[name] = parser
    return out


def test_no_two_flags_of_a_command_share_a_destination() -> None:
    """Two flags writing one attribute would let one silently set the other (e.g. --data-seed and --seed)."""
    for name, parser in _subparsers().items():
        dests = [a.dest for a in parser._actions if a.dest != "help"]
        assert len(dests) == len(set(dests)), (name, sorted(d for d in dests if dests.count(d) > 1))


def test_the_data_seed_and_the_run_seed_stay_apart() -> None:
    from partkd.cli import build_parser
    from partkd.cli_train import _spec, _train_cfg

    args = build_parser().parse_args(["train-teacher", "--data", "synthetic", "--data-seed", "3", "--seed", "5",
                                      "--out", "x"])
    assert _spec(args).seed == 3 and _train_cfg(args, {}).seed == 5
    args = build_parser().parse_args(["evaluate", "x.safetensors", "--data-seed", "2"])
    assert args.seed == 0 and _spec(args, {"source": "synthetic"}).seed == 2


def test_data_flags_reach_the_data_spec(tmp_path: Path) -> None:
    """Every data flag lands in its DataSpec field; KEY=VALUE options parse as JSON; paths are stored absolute."""
    from partkd.cli import build_parser
    from partkd.cli_train import _spec

    args = build_parser().parse_args(
        ["evaluate", "x.safetensors", "--data", "rel/data", "--format", "h36m", "--layout", "my.json",
         "--low", "real", "--level", "heavy", "--data-seed", "3", "--classes", "4", "--clips-per-class", "5",
         "--synth-frames", "9", "--high-source", "projected", "--data-option", "window_s=2.5",
         "--data-option", "cameras=[1, 2]"])
    spec = _spec(args, base={"source": "synthetic", "options": {"fps": 10}})
    assert spec.source == str(Path("rel/data").resolve()) and spec.high_layout == str(Path("my.json").resolve())
    assert (spec.format, spec.low, spec.level, spec.seed, spec.high_source) == ("h36m", "real", "heavy", 3,
                                                                                 "projected")
    assert (spec.num_classes, spec.clips_per_class, spec.synth_frames) == (4, 5, 9)
    assert spec.options == {"window_s": 2.5, "cameras": [1, 2]}     # other data: the stored options are dropped
    same = _spec(build_parser().parse_args(["evaluate", "x", "--data-option", "stride_s=1"]),
                 base={"source": "/d", "options": {"fps": 10}})
    assert same.source == "/d" and same.options == {"fps": 10, "stride_s": 1}


def test_other_data_files_keep_the_checkpoints_degradation(tmp_path: Path) -> None:
    """--data naming other files (or the same spelled differently) keeps how L was made: level, simulated layout,
    data seed, simulate / real; what names the old files (format, options, a path in --low) is dropped."""
    from partkd.cli import build_parser
    from partkd.cli_train import _spec

    stored = {"source": "/d", "format": "penn_action", "level": "heavy", "low_layout": "coco17", "seed": 3,
              "options": {"fps": 10}}
    spec = _spec(build_parser().parse_args(["evaluate", "x", "--data", str(tmp_path / "d")]), base=stored)
    assert (spec.level, spec.low_layout, spec.seed, spec.low) == ("heavy", "coco17", 3, "simulate")
    assert spec.format is None and spec.options == {}
    spec = _spec(build_parser().parse_args(["evaluate", "x", "--data", "/e", "--level", "light"]), base=stored)
    assert spec.level == "light" and spec.low_layout == "coco17"
    with_files = {"source": "/d", "low": "/low", "low_layout": "mpii16", "level": "heavy"}
    spec = _spec(build_parser().parse_args(["evaluate", "x", "--data", "/e"]), base=with_files)
    assert (spec.low, spec.low_layout, spec.level) == ("simulate", None, "heavy")


def test_the_train_form_widgets_follow_the_schema() -> None:
    from partkd.engine.config import StudentConfig
    from partkd.engine.schema import option

    from helpers import app_page

    at = app_page("train")
    at.radio(key="t_kind").set_value("Student (low quality)").run()
    tau, alpha, op = at.number_input(key="t_tau"), at.number_input(key="t_alpha"), at.slider(key="t_op")
    assert tau.value == StudentConfig.tau and tau.max == option(StudentConfig, "tau").high and tau.min > 0
    assert alpha.max == option(StudentConfig, "alpha").high and (op.min, op.max) == (0.0, 1.0)
    assert at.selectbox(key="t_kd").options == list(KD_METHODS)
