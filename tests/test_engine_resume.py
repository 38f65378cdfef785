"""Resume: SIGKILL mid-run continues from the last epoch checkpoint; SIGTERM saves and exits cleanly."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from partkd.checkpoints import load_checkpoint, read_meta, resume_tensors

ROOT = Path(__file__).resolve().parents[1]
# Enough epochs after the kill point (after epoch 2) that an idle machine cannot finish the run before the kill lands.
EPOCHS = 12
ARGS = ["train-teacher", "--data", "synthetic", "--classes", "4", "--clips-per-class", "12", "--synth-frames", "24",
        "--preset", "smoke", "--batch-size", "6", "--frames", "12", "--epochs", str(EPOCHS)]


def _start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "partkd", *ARGS, "--out", str(out), *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "partkd", *ARGS, "--out", str(out), *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def _wait_for(cond: object, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < end, "timed out waiting for the training run"
        time.sleep(0.05)


def _epochs_done(out: Path) -> int:
    try:
        return len((out / "history.jsonl").read_text().splitlines())
    except FileNotFoundError:
        return 0


def _resume_epoch(out: Path) -> int:
    """Epochs completed in the run's resume point last.*, 0 before the first one exists."""
    try:
        return json.loads((out / "last.json").read_text())["resume"]["epoch"]
    except FileNotFoundError:
        return 0


def _history(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same run, uninterrupted."""
    out = tmp_path_factory.mktemp("ref")
    done = _run(out)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_sigkill_mid_epoch_resumes_from_the_last_epoch_checkpoint(tmp_path: Path, reference: Path) -> None:
    proc = _start(tmp_path)
    # Wait for the epoch-2 resume point itself: progress.json is throttled to once a second, too coarse on an idle
    # machine, and history.jsonl gains its line just before last.* is written.
    _wait_for(lambda: _resume_epoch(tmp_path) >= 2, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stored, _, _ = resume_tensors(tmp_path / "last")  # intact: checksum of the weights matches the metadata
    killed_at = stored["resume"]["epoch"]
    assert stored["resume"]["step"] == 0 and killed_at == len(stored["history"]) >= 2
    assert not (tmp_path / "model.json").exists()

    done = _run(tmp_path, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not list(tmp_path.glob(".*"))  # a kill inside a write leaves its .tmp file; resuming removes it
    hist = _history(tmp_path)
    assert [h["epoch"] for h in hist] == list(range(1, EPOCHS + 1))
    # Every draw is seeded by (seed, epoch, step): the resumed run ends exactly where the uninterrupted one does.
    ref = _history(reference)
    assert [h["loss"] for h in hist] == pytest.approx([h["loss"] for h in ref], rel=1e-5)
    a, b = load_checkpoint(tmp_path), load_checkpoint(reference)
    for (k, v), w in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        torch.testing.assert_close(v, w, rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.slow
def test_sigterm_saves_a_mid_epoch_resume_point_and_exits_cleanly(tmp_path: Path, reference: Path) -> None:
    proc = _start(tmp_path)
    _wait_for(lambda: _epochs_done(tmp_path) >= 1, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before SIGTERM arrived")
    assert proc.returncode == 143, err[-2000:]
    assert "cancelled at epoch" in err and "Traceback" not in err
    resume = read_meta(tmp_path / "last")["resume"]
    assert resume["epoch"] >= 1
    done = _run(tmp_path, "--resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert [h["epoch"] for h in _history(tmp_path)] == list(range(1, EPOCHS + 1))
    assert [h["loss"] for h in _history(tmp_path)] == pytest.approx([h["loss"] for h in _history(reference)],
                                                                    rel=1e-5)


def test_resume_with_different_settings_is_refused(tmp_path: Path, reference: Path) -> None:
    for name in ("last.json", "last.safetensors"):
        (tmp_path / name).write_bytes((reference / name).read_bytes())
    done = _run(tmp_path, "--resume", "--lr", "0.5")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "different settings (train.lr)" in done.stderr


def test_a_resume_point_from_before_a_setting_existed_counts_it_as_its_default(tmp_path):
    """A field added after the resume point was written (here train.fusion_holdout) equals its default there: the
    run resumes when the current value is the default, and is refused by name otherwise."""
    from partkd.engine.config import TrainConfig, to_dict, train_preset
    from partkd.engine.loop import _check_resume
    from partkd.errors import ConfigError

    current = {"role": "student", "train": to_dict(train_preset("smoke"))}
    stored = {"role": "student", "train": {k: v for k, v in current["train"].items() if k != "fusion_holdout"}}
    assert TrainConfig.fusion_holdout == 0.0
    _check_resume(stored, current, tmp_path / "last")
    changed = {**current, "train": {**current["train"], "fusion_holdout": 0.2}}
    with pytest.raises(ConfigError, match=r"different settings \(train.fusion_holdout\)"):
        _check_resume(stored, changed, tmp_path / "last")
