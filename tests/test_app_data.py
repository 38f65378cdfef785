"""Data discovery and launch options (`partkd app`, `streamlit run app.py -- …`, an app TOML), and the sidebar's
memory across data sources and pages (bugs found walking the app in a browser)."""
import sys
from pathlib import Path

import numpy as np
import pytest

from partkd.app_options import AppSettings, app_argv, parse_app_args, read_app_config
from partkd.data.discovery import data_root, discover, recipe_data, source_fields
from partkd.errors import ConfigError

from helpers import app_page, jobs_root, run_page  # noqa: F401 (jobs_root: an autouse fixture)

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def run(page: str = "home", session: dict | None = None):
    return run_page(page, session, TIMEOUT)


def write_npz(path: Path, classes: int = 3, clips: int = 4, frames: int = 12) -> Path:
    """A generic npz of random COCO-17 2D clips (split train/test by clip)."""
    rng = np.random.default_rng(0)
    n = classes * clips
    np.savez(path, keypoint=rng.normal(size=(n, 1, frames, 17, 2)).astype(np.float32), label=np.arange(n) % classes,
             split=np.array(["train", "test"] * (n // 2)), class_names=np.array([f"c{i}" for i in range(classes)]),
             layout=np.array("coco17"))
    return path


# ---------------------------------------------------------------- discovery

def test_data_root_prefers_the_flag_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PARTKD_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "flag") == (tmp_path / "flag").resolve()
    assert data_root() == (tmp_path / "env").resolve()
    monkeypatch.delenv("PARTKD_DATA")
    monkeypatch.chdir(tmp_path)
    assert data_root() is None                                   # neither ../shared/data nor ./data here
    (tmp_path / "data").mkdir()
    assert data_root() == (tmp_path / "data").resolve()


def test_discover_names_each_dataset_and_skips_what_is_not_one(tmp_path):
    write_npz(tmp_path / "mine.npz")
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "empty").mkdir()
    (tmp_path / "penn").mkdir()
    (tmp_path / "penn" / "labels").mkdir()
    found = discover(tmp_path)
    assert [(f.name, f.format) for f in found] == [("mine.npz", "npz"), ("penn", "penn_action")]
    assert all(Path(f.path).is_absolute() for f in found)


def test_discover_finds_the_shared_datasets(shared_data):
    found = {f.name: f.format for f in discover(shared_data)}
    for name, fmt in (("penn_action", "penn_action"), ("nw_ucla", "nw_ucla"), ("h36m", "h36m")):
        if (shared_data / name).is_dir():
            assert found[name] == fmt


def test_a_discovered_dataset_opens_with_its_shipped_recipes_data_settings(tmp_path):
    recipes = recipe_data(ROOT / "configs")
    assert recipes["h36m"]["options"] == {"window_s": 5.0, "stride_s": 20.0} and recipes["h36m"]["low"] == "real"
    (tmp_path / "labels").mkdir()
    found = discover(tmp_path.parent)
    mine = next(f for f in found if f.path == str(tmp_path.resolve()))
    fields = source_fields(mine, recipes)
    assert fields["source"] == str(tmp_path.resolve()) and fields["level"] == recipes["penn_action"]["level"]


# ---------------------------------------------------------------- launch options

def test_app_flags_become_absolute_checked_paths(tmp_path, monkeypatch):
    data = write_npz(tmp_path / "hq.npz")
    monkeypatch.chdir(tmp_path)
    s = parse_app_args(["--data", "hq.npz", "--layout", "coco17", "--checkpoints", "."], environ={})
    assert s == AppSettings(data=str(data), layout="coco17", checkpoints=str(tmp_path))
    assert parse_app_args(app_argv(s), environ={}) == s              # `partkd app` passes them on unchanged
    with pytest.raises(ConfigError, match=r"--data: .*nope.npz does not exist"):
        parse_app_args(["--data", "nope.npz"], environ={})
    with pytest.raises(ConfigError, match="give --data"):
        parse_app_args(["--low", "hq.npz"], environ={})
    with pytest.raises(ConfigError, match="not a folder"):
        parse_app_args(["--checkpoints", "hq.npz"], environ={})
    with pytest.raises(ConfigError, match="unknown argument"):
        parse_app_args(["--dta", "hq.npz"], environ={})


def test_an_app_toml_has_the_same_keys_relative_to_its_folder_and_flags_win(tmp_path):
    write_npz(tmp_path / "hq.npz")
    write_npz(tmp_path / "other.npz")
    (tmp_path / "ck").mkdir()
    cfg = tmp_path / "app.toml"
    cfg.write_text('data = "hq.npz"\ncheckpoints = "ck"\n')
    assert read_app_config(cfg) == {"data": str(tmp_path / "hq.npz"), "checkpoints": str(tmp_path / "ck")}
    s = parse_app_args(["--data", str(tmp_path / "other.npz")], environ={"PARTKD_APP_CONFIG": str(cfg)})
    assert s.data == str(tmp_path / "other.npz") and s.checkpoints == str(tmp_path / "ck")
    cfg.write_text('data = "hq.npz"\nlevel = "heavy"\n')
    with pytest.raises(ConfigError, match=r"app.toml: unknown key\(s\) level"):
        read_app_config(cfg)


def test_partkd_app_runs_streamlit_on_app_py_with_the_flags(tmp_path, capsys):
    from partkd.cli import main

    data = write_npz(tmp_path / "hq.npz")
    assert main(["app", "--dry-run", "--data", str(data), "--port", "8600", "--headless"]) == 0
    out = capsys.readouterr().out.split()
    assert out[1:4] == ["-m", "streamlit", "run"] and out[4] == str(ROOT / "app.py")
    assert out[out.index("--") + 1:] == ["--data", str(data)] and "8600" in out
    assert main(["app", "--dry-run", "--data", str(tmp_path / "missing.npz")]) == 2
    assert "missing.npz does not exist" in capsys.readouterr().err


def test_the_app_opens_on_the_users_files(tmp_path, monkeypatch):
    """`streamlit run app.py -- --data F`: the sidebar's Source is that file, read with its own layout."""
    data = write_npz(tmp_path / "hq.npz")
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(data)])
    at = run("skeletons")
    assert at.sidebar.radio(key="w_src").value == "hq.npz (--data)"
    assert not at.error
    assert any("3 classes" in m.value or "hq.npz" in m.value for m in at.sidebar.caption)


def test_a_bad_launch_flag_is_one_readable_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["app.py", "--data", str(tmp_path / "nope.npz")])
    at = app_page("home", None, TIMEOUT)
    assert not at.exception
    assert [e.value for e in at.error] == [f"--data: {tmp_path / 'nope.npz'} does not exist"]


# ---------------------------------------------------------------- the sidebar's memory

def test_switching_data_sources_and_back_restores_each_ones_settings_and_models(shared_data):
    """synthetic -> Penn Action -> folder or file -> synthetic: the demo's heavy estimator level and its shipped
    models come back; Penn Action keeps the level the user chose for it."""
    if not (shared_data / "penn_action").is_dir():
        pytest.skip("penn_action not in ../shared/data")
    at = run("home")
    synthetic = {k: at.sidebar.selectbox(key=f"w_{k}").value for k in ("data_level", "ckpt_teacher", "ckpt_kd")}
    assert synthetic["data_level"] == "heavy" and "shipped" in synthetic["ckpt_kd"]
    at.sidebar.radio(key="w_src").set_value("penn_action").run()
    assert not at.exception
    at.sidebar.selectbox(key="w_data_level").set_value("light").run()
    at.sidebar.radio(key="w_src").set_value("folder or file").run()
    assert not at.exception and not at.error
    at.sidebar.radio(key="w_src").set_value("synthetic").run()
    assert {k: at.sidebar.selectbox(key=f"w_{k}").value for k in synthetic} == synthetic
    at.sidebar.radio(key="w_src").set_value("penn_action").run()
    assert at.sidebar.selectbox(key="w_data_level").value == "light"


def test_an_empty_path_is_a_hint_and_loads_no_model():
    at = run("home")
    at.sidebar.radio(key="w_src").set_value("folder or file").run()
    assert not at.exception and not at.error
    assert any("Type a dataset path" in i.value for i in at.sidebar.info)
    files = list(at.dataframe[0].value["file"])
    assert files == ["— not loaded —"] * 3
    for page in ("skeletons", "compare", "part_efficiency", "robustness"):
        at.switch_page(f"partkd_app/pages/{page}.py").run()
        assert not at.exception and not at.error, page


def test_the_train_form_keeps_its_values_across_pages_and_follows_the_sidebar_op():
    at = run("train")
    at.selectbox(key="t_preset").set_value("smoke").run()
    at.radio(key="t_kind").set_value("Student (low quality)").run()
    assert at.slider(key="t_op").value == pytest.approx(at.sidebar.slider(key="w_op").value)
    at.sidebar.slider(key="w_op").set_value(0.6).run()
    assert at.slider(key="t_op").value == pytest.approx(0.6)
    at.slider(key="t_op").set_value(0.45).run()
    at.switch_page("partkd_app/pages/home.py").run()
    at.switch_page("partkd_app/pages/train.py").run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="t_preset").value == "smoke"
    assert at.radio(key="t_kind").value == "Student (low quality)"
    assert at.slider(key="t_op").value == pytest.approx(0.45)


def test_a_run_folders_model_is_named_after_its_run():
    from partkd.catalogue import checkpoint_name

    assert checkpoint_name("jobs/20261202-1/run/model.safetensors") == "20261202-1"
    assert checkpoint_name("runs/x/students/pmsc_op0.6_s0/model.safetensors") == "pmsc_op0.6_s0"
    assert checkpoint_name("runs/x/teacher/model.json") == "teacher"
    assert checkpoint_name("checkpoints/penn_action/student_pmsc.safetensors") == "student_pmsc"
