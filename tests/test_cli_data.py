"""`partkd data synth` and `partkd data inspect`, run as the user runs them (subprocess)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from partkd.cli_data import FORMAT_NAMES, parse_options
from partkd.data.dataset import PairedDataset
from partkd.data.loaders import FORMATS, load_dataset
from partkd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
HAS_SYNTHETIC = importlib.util.find_spec("partkd.data.synthetic") is not None


def partkd(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """Run `python -m partkd ARGS` with its own dataset cache."""
    env = {**os.environ, "PARTKD_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "partkd", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=120)


def write_npz(path: Path, bad_clip: bool = False) -> None:
    """A small generic npz of three 2-person ntu25 clips; clip 1 holds a NaN when `bad_clip`."""
    kp = np.random.default_rng(0).normal(size=(3, 2, 10, 25, 3)).astype(np.float32)
    if bad_clip:
        kp[1, 0, 2, 5, 1] = np.nan
    np.savez(path, keypoint=kp, label=np.array([0, 1, 1]), split=np.array(["train", "train", "test"]),
             class_names=np.array(["wave", "clap"]), length=np.array([10, 4, 7]), layout=np.array("ntu25"))


def test_inspect_text_and_json(tmp_path: Path) -> None:
    path = tmp_path / "clips.npz"
    write_npz(path)
    text = partkd("data", "inspect", str(path), cache=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = dict(line.split(":", 1) for line in text.stdout.strip().splitlines())
    assert lines["clips"].strip() == "3" and lines["classes"].strip() == "2 (wave, clap)"
    assert lines["frames"].strip() == "min 4, median 7, max 10"
    assert lines["joints"].strip() == "25 (layout ntu25, 3D)" and lines["splits"].strip() == "test 1, train 2"
    js = partkd("data", "inspect", str(path), "--format", "npz", "--json", cache=tmp_path)
    summary = json.loads(js.stdout)
    assert summary["format"] == "npz" and summary["source"] == str(path)
    assert summary["splits"] == {"test": 1, "train": 2} and summary["persons_max"] == 2


def test_inspect_real_penn_action(tmp_path: Path, shared_data: Path) -> None:
    penn = shared_data / "penn_action"
    if not penn.is_dir():
        pytest.skip(f"{penn} is absent")
    out = partkd("data", "inspect", str(penn), "--json", cache=tmp_path)
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert (s["clips"], s["classes"], s["joints"], s["layout"]) == (2326, 15, 13, "penn13")
    assert s["splits"] == {"test": 1068, "train": 1258} and s["frames"]["max"] == 663


@pytest.mark.parametrize("args, problem", [
    (["/no/such/folder"], "/no/such/folder: does not exist"),
    (["{npz}", "--format", "bvh"], "unknown format 'bvh'"),
    (["{npz}", "--layout", "stick_man"], "unknown layout 'stick_man'"),
    (["{bad}"], "1 of 3 clips are bad"),
    (["{npz}", "-o", "coords"], "option 'coords' is not KEY=VALUE"),
])
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], problem: str) -> None:
    write_npz(tmp_path / "ok.npz")
    write_npz(tmp_path / "bad.npz", bad_clip=True)
    argv = [a.format(npz=tmp_path / "ok.npz", bad=tmp_path / "bad.npz") for a in args]
    out = partkd("data", "inspect", *argv, cache=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("partkd: error: ") and problem in out.stderr
    assert "Traceback" not in out.stderr


def test_skip_bad_warns_and_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "bad.npz"
    write_npz(path, bad_clip=True)
    out = partkd("data", "inspect", str(path), "--skip-bad", "--json", cache=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["clips"] == 2
    assert out.stderr.startswith("partkd: warning: ") and "NaN or infinite" in out.stderr


@pytest.mark.skipif(not HAS_SYNTHETIC, reason="partkd.data.synthetic is not written yet")
def test_synth_writes_paired_npz(tmp_path: Path) -> None:
    out = partkd("data", "synth", "--out", str(tmp_path / "syn"), "--classes", "3", "--clips-per-class", "4",
                 "--frames", "24", "--seed", "5", "--level", "light", cache=tmp_path)
    assert out.returncode == 0, out.stderr
    high = load_dataset(tmp_path / "syn" / "high.npz", format="npz", cache=False)
    low = load_dataset(tmp_path / "syn" / "low.npz", format="npz", cache=False)
    assert (len(high), high.num_classes, high.layout.name, low.layout.name) == (12, 3, "ntu25", "coco17")
    assert max(c.shape[1] for c in high.clips) == 24
    pairs = PairedDataset(high, low).high_index_of_low()
    assert (pairs >= 0).all() and np.array_equal(high.labels[pairs], low.labels)
    assert set(high.split) <= {"train", "test"} and list(high.split[pairs]) == list(low.split)
    bad = partkd("data", "synth", "--out", str(tmp_path / "x"), "--frames", "0", cache=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip() == "partkd: error: --frames must be at least 1, got 0"


def test_parse_options_and_format_names() -> None:
    assert parse_options(["coords=2d", "persons=3", "split_train=xview_train", "x=null"]) == \
        {"coords": "2d", "persons": 3, "split_train": "xview_train", "x": None}
    with pytest.raises(ConfigError):
        parse_options(["=3"])
    assert FORMAT_NAMES.split(", ") == list(FORMATS)
