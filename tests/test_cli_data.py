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

from partkd.cli import main
from partkd.cli_data import FORMAT_NAMES
from partkd.data.dataset import PairedDataset
from partkd.data.loaders import FORMATS, load_dataset
from partkd.engine.schema import parse_options
from partkd.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
HAS_SYNTHETIC = importlib.util.find_spec("partkd.data.synthetic") is not None


def partkd(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """Run `python -m partkd ARGS` with its own dataset cache."""
    env = {**os.environ, "PARTKD_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-m", "partkd", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)


def write_npz(path: Path, bad_clip: bool = False) -> None:
    """A small generic npz of three 2-person ntu25 clips; clip 1 holds a NaN when `bad_clip`."""
    kp = np.random.default_rng(0).normal(size=(3, 2, 10, 25, 3)).astype(np.float32)
    if bad_clip:
        kp[1, 0, 2, 5, 1] = np.nan
    np.savez(path, keypoint=kp, label=np.array([0, 1, 1]), split=np.array(["train", "train", "test"]),
             class_names=np.array(["wave", "clap"]), length=np.array([10, 4, 7]), layout=np.array("ntu25"))


def test_inspect_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clips.npz"
    write_npz(path)
    text = partkd("data", "inspect", str(path), cache=tmp_path)
    assert text.returncode == 0, text.stderr
    lines = dict(line.split(":", 1) for line in text.stdout.strip().splitlines())
    assert lines["clips"].strip() == "3" and lines["classes"].strip() == "2 (wave, clap)"
    assert lines["frames"].strip() == "min 4, median 7, max 10"
    assert lines["joints"].strip() == "25 (layout ntu25, 3D)" and lines["splits"].strip() == "test 1, train 2"
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path))
    assert main(["data", "inspect", str(path), "--format", "npz", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
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
    (["{bad}"], "1 of 3 clips are bad"),
])
def test_bad_input_subprocess(tmp_path: Path, args: list[str], problem: str) -> None:
    write_npz(tmp_path / "bad.npz", bad_clip=True)
    out = partkd("data", "inspect", *[a.format(bad=tmp_path / "bad.npz") for a in args], cache=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("partkd: error: ") and problem in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("args, problem", [
    (["{npz}", "--format", "bvh"], "unknown format 'bvh'"),
    (["{npz}", "--layout", "stick_man"], "unknown layout 'stick_man'"),
    (["{npz}", "--layout", "coco17"], "25 joints but layout 'coco17' has 17"),
    (["{npz}", "-o", "coords"], "option 'coords' is not KEY=VALUE"),
    (["{npz}", "-o", "coords=2d"], "format 'npz' has no option coords"),
    (["{junk}"], "cannot detect the format"),
])
def test_bad_input_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch,
                            args: list[str], problem: str) -> None:
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path))
    write_npz(tmp_path / "ok.npz")
    (tmp_path / "junk.bin").write_bytes(b"\0" * 10)
    argv = [a.format(npz=tmp_path / "ok.npz", junk=tmp_path / "junk.bin") for a in args]
    assert main(["data", "inspect", *argv]) == 2
    err = capsys.readouterr()
    assert err.out == "" and err.err.count("\n") == 1 and err.err.startswith("partkd: error: ")
    assert problem in err.err


def test_skip_bad_warns_and_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path))
    path = tmp_path / "bad.npz"
    write_npz(path, bad_clip=True)
    assert main(["data", "inspect", str(path), "--skip-bad", "--json", "--min-frames", "1"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["clips"] == 2
    assert out.err.startswith("partkd: warning: ") and "NaN or infinite" in out.err and out.err.count("\n") == 1


@pytest.mark.skipif(not HAS_SYNTHETIC, reason="partkd.data.synthetic is not written yet")
def test_synth_writes_paired_npz(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from partkd.data.synthetic import make_synthetic

    out = partkd("data", "synth", "--out", str(tmp_path / "syn"), "--classes", "3", "--clips-per-class", "4",
                 "--frames", "24", "--seed", "5", "--level", "light", cache=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "carrier parts per class (clean motion):\n  wave: right_arm\n  punch: right_arm\n" in out.stdout
    high = load_dataset(tmp_path / "syn" / "high.npz", format="npz", cache=False)
    low = load_dataset(tmp_path / "syn" / "low.npz", format="npz", cache=False)
    ref = make_synthetic(num_classes=3, clips_per_class=4, frames=24, seed=5, level="light")
    for got, want in ((high, ref.high), (low, ref.low)):
        assert got.layout == want.layout and got.class_names == want.class_names and got.names == want.names
        assert np.array_equal(got.labels, want.labels) and np.array_equal(got.pair_ids, want.pair_ids)
        assert list(got.split) == list(want.split)
        assert all(a.shape[1:] == b.shape[1:] and np.array_equal(a[:len(b)], b) and not a[len(b):].any()
                   for a, b in zip(got.clips, want.clips))
    pairs = PairedDataset(high, low).high_index_of_low()
    assert (pairs >= 0).all() and np.array_equal(high.labels[pairs], low.labels)
    assert main(["data", "synth", "--out", str(tmp_path / "x"), "--frames", "0"]) == 2
    assert capsys.readouterr().err == "partkd: error: --frames must be at least 1, got 0\n"


def test_parse_options_and_format_names() -> None:
    assert parse_options(["coords=2d", "persons=3", "split_train=xview_train", "x=null"]) == \
        {"coords": "2d", "persons": 3, "split_train": "xview_train", "x": None}
    with pytest.raises(ConfigError):
        parse_options(["=3"])
    assert FORMAT_NAMES.split(", ") == list(FORMATS)


def test_inspect_prints_coordinate_ranges_units_and_the_conversion(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A z-up millimetre layout: inspect says the clips were turned into y-up metres and prints the ranges after."""
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path / "cache"))
    from partkd.layouts import get_layout

    lay = get_layout("ntu25").to_dict()
    lay.update(name="ntu25_zup_mm", up="z", units="mm")
    (tmp_path / "lay.json").write_text(json.dumps(lay))
    kp = np.zeros((2, 1, 5, 25, 3), np.float32)
    kp[..., 0], kp[..., 1], kp[..., 2] = 100.0, 2000.0, 1500.0     # x 0.1 m, 2 m deep (file y), 1.5 m up (file z)
    kp[0, 0, 0, 0] = (-300.0, 1000.0, 500.0)
    np.savez(tmp_path / "mm.npz", keypoint=kp, label=np.array([0, 1]))
    assert main(["data", "inspect", str(tmp_path / "mm.npz"), "--layout", str(tmp_path / "lay.json")]) == 0
    coords = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("coords:"))
    # (x, y, z) -> (x, z, -y) in metres: x -0.3..0.1, y (up) 0.5..1.5, z -2..-1
    assert coords == "coords:  x -0.3..0.1, y 0.5..1.5, z -2..-1 m (converted from z-up mm to y-up metres)"
    assert main(["data", "inspect", str(tmp_path / "mm.npz"), "--layout", str(tmp_path / "lay.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["converted_from"] == {"up": "z", "units": "mm"} and summary["units"] == "m"
    assert summary["ranges"]["y"] == pytest.approx([0.5, 1.5])


def test_inspect_ends_its_summary_with_a_newline_before_the_warnings(tmp_path: Path) -> None:
    """stdout and stderr into one pipe: the warnings start on a line of their own, after the summary."""
    path = tmp_path / "clips.npz"
    write_npz(path)                                                  # clip 1 has 4 frames: a short-clip warning
    env = {**os.environ, "PARTKD_CACHE": str(tmp_path)}
    run = subprocess.run(f"{sys.executable} -m partkd data inspect {path} 2>&1", shell=True, capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=300)
    lines = run.stdout.splitlines()
    first_warning = next(i for i, line in enumerate(lines) if "warning" in line)
    assert lines[first_warning].startswith("partkd: warning:") and lines[first_warning - 1].startswith("coords:")


def test_npz_clips_at_different_frame_rates_are_resampled_to_the_common_one(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path / "cache"))
    from partkd.data.loaders import load_dataset

    kp = np.zeros((3, 1, 21, 25, 3), np.float32)
    kp[..., 0] = np.arange(21, dtype=np.float32)[None, None, :, None]     # x = frame index of its own clock
    np.savez(tmp_path / "rates.npz", keypoint=kp, label=np.array([0, 0, 1]), length=np.array([11, 11, 21]),
             fps=np.array([30.0, 30.0, 60.0]))
    ds = load_dataset(tmp_path / "rates.npz", cache=False)
    assert [c.shape[1] for c in ds.clips] == [11, 11, 11]                 # 20 frames at 60 Hz = 10 at 30 Hz
    np.testing.assert_allclose(ds.clips[2][0, :, 0, 0], np.arange(0, 21, 2))
    assert ds.meta["fps"] == 30.0 and ds.meta["resampled_from"] == {"60": 1}
    assert main(["data", "inspect", str(tmp_path / "rates.npz"), "--no-cache"]) == 0
    assert "fps:     30 frames/s (resampled to it: 1 from 60)" in capsys.readouterr().out
    np.savez(tmp_path / "bad.npz", keypoint=kp, label=np.array([0, 0, 1]), fps=np.array([30.0, 0.0, 60.0]))
    assert main(["data", "inspect", str(tmp_path / "bad.npz"), "--no-cache"]) == 2
    assert "bad.npz: 'fps' must be positive frame rates" in capsys.readouterr().err
