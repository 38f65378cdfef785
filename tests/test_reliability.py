"""Reliability: nothing lost (crashes, full disks, NaN), nothing executed (pickles, lying headers, '../' ids),
every bad input answered with one clear line. See docs/reliability.md for the guarantee each test proves."""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import signal
import struct
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from partkd.checkpoints import load_checkpoint, read_meta, read_tensors, resume_tensors, save_checkpoint, update_meta
from partkd.cli import main
from partkd.engine import jobs
from partkd.engine.config import DataSpec, StudentConfig, train_preset
from partkd.engine.student import train_student
from partkd.engine.teacher import train_teacher
from partkd.errors import CheckpointError, JobError, PartKDError
from partkd.io import atomic_write_bytes
from helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DATA = ["--data", "synthetic", "--classes", "4", "--clips-per-class", "12", "--synth-frames", "24"]
SMOKE = ["--preset", "smoke", "--batch-size", "6", "--frames", "12", "--device", "cpu"]
SPEC = DataSpec(num_classes=4, clips_per_class=12, synth_frames=24)


def smoke(**overrides: object):
    return train_preset("smoke", **{"epochs": 1, "batch_size": 6, "frames": 12, "device": "cpu", **overrides})


def one_error_line(rc: int, err: str, *fragments: str) -> str:
    """The CLI answered with exit status 2 and its last stderr line is the one-line error."""
    assert rc == 2, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith("partkd: error: "), err[-2000:]
    for f in fragments:
        assert f in line, line
    return line


def cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    rc = main(list(args))
    return rc, capsys.readouterr().err


@pytest.fixture
def teacher(smoke_teacher: Path) -> Path:
    """The suite's shared smoke teacher (conftest.py): 4 synthetic classes, ntu25 (3 channels)."""
    return smoke_teacher


# ---------------------------------------------------------------------------------------------- 1. crashes

def test_atomic_write_is_tmp_fsync_rename_in_the_same_folder(tmp_path: Path, monkeypatch) -> None:
    calls: list[tuple] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}") if Path("/proc/self/fd").is_dir() else fd))
        real_fsync(fd)

    def replace_(src, dst) -> None:
        calls.append(("replace", str(src), str(dst), Path(src).read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace_)
    target = tmp_path / "out.json"
    target.write_text("old")
    atomic_write_bytes(target, b"new content")
    (kind1, tmp_file), (kind2, src, dst, content), (kind3, folder) = calls
    assert (kind1, kind2, kind3) == ("fsync", "replace", "fsync")
    assert tmp_file == src and Path(src).parent == tmp_path and Path(src).name.endswith(".tmp")  # data first
    assert dst == str(target) and content == b"new content"                                 # then the rename
    assert folder == str(tmp_path)                                                          # then the folder
    assert target.read_bytes() == b"new content" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


# Runs the CLI with the renames of last.* slowed down, so that a kill can land inside a checkpoint write: while
# `.last.safetensors.*.tmp` exists (weights written, not renamed) or `.last.json.*.tmp` exists (new weights in
# place, their metadata not yet).
SLOW_LAST_WRITES = textwrap.dedent("""
    import os, sys, time
    real_replace = os.replace
    def replace(src, dst, *a, **k):
        if os.path.basename(str(dst)).startswith("last."):
            time.sleep(0.4)
        return real_replace(src, dst, *a, **k)
    os.replace = replace
    from partkd.cli import main
    sys.exit(main(sys.argv[1:]))
""")


# One intra-op thread per training process: two-thread OpenMP teams thrash (spin-waiting) on a shared 2-core machine.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


def _start(out: Path, epochs: int, resume: bool) -> subprocess.Popen:
    argv = ["train-teacher", *DATA, *SMOKE, "--epochs", str(epochs), "--out", str(out)] + (["--resume"] if resume
                                                                                           else [])
    return subprocess.Popen([PY, "-c", SLOW_LAST_WRITES, *argv], cwd=ROOT, env=ONE_THREAD,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_nothing_half_written(out: Path) -> None:
    """Every final file is whole: JSON parses, history lines parse, safetensors parse completely, and every
    checkpoint JSON's weights are on disk with its sha256 (the file itself, or the backup kept while a save was
    interrupted between its two renames)."""
    from safetensors.torch import load as st_load

    for path in out.glob("*.json"):
        json.loads(path.read_text())
    for line in (out / "history.jsonl").read_text().splitlines() if (out / "history.jsonl").exists() else []:
        json.loads(line)
    for path in out.glob("*.safetensors"):
        st_load(path.read_bytes())
    for meta_path in out.glob("*.json"):
        if meta_path.name == "progress.json":
            continue
        meta = read_meta(meta_path)
        weights, backup = meta_path.with_suffix(".safetensors"), out / f".{meta_path.stem}.safetensors.prev"
        assert _sha(weights) == meta["weights_sha256"] or (backup.is_file() and
                                                            _sha(backup) == meta["weights_sha256"]), meta_path
        read_tensors(meta_path, meta)  # what a loader does: passes the sha256 check


def _epochs_recorded(out: Path) -> int:
    try:
        return len((out / "history.jsonl").read_text().splitlines())
    except FileNotFoundError:
        return 0


def _resume_epoch(out: Path) -> int:
    return read_meta(out / "last")["resume"]["epoch"] if (out / "last.json").exists() else 0


def _training_started(out: Path, since: float) -> bool:
    try:
        return (out / "progress.json").stat().st_mtime >= since
    except FileNotFoundError:
        return False


@pytest.mark.slow
def test_sigkill_at_random_moments_and_inside_checkpoint_writes_loses_at_most_one_epoch(tmp_path: Path) -> None:
    epochs = 12
    out, ref = tmp_path / "run", tmp_path / "ref"
    plain = [PY, "-m", "partkd", "train-teacher", *DATA, *SMOKE, "--epochs", str(epochs), "--out"]
    reference = subprocess.Popen([*plain, str(ref)], cwd=ROOT, env=ONE_THREAD, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)  # the same run, uninterrupted (alongside)

    def weights_tmp() -> bool:
        return bool(list(out.glob(".last.safetensors.*.tmp")))

    def meta_tmp_over_an_older_pair() -> bool:
        return (out / "last.json").exists() and bool(list(out.glob(".last.json.*.tmp")))

    rng = random.Random(1234)  # random moments, reproducible: seconds after the attempt's training started
    moments: list[tuple[str, object]] = [("random", rng.uniform(0.2, 1.5)) for _ in range(3)]
    moments[1:1] = [("weights write", weights_tmp), ("between weights and metadata", meta_tmp_over_an_older_pair)]
    for i, (what, when) in enumerate(moments):
        started = time.time() - 0.01
        proc = _start(out, epochs, resume=i > 0)
        if callable(when):
            wait_for(lambda: when() or proc.poll() is not None, 120, what)
        else:
            wait_for(lambda: _training_started(out, started) or proc.poll() is not None, 120, "training")
            time.sleep(when)
        proc.kill()
        err = proc.communicate()[1]
        assert proc.returncode == -signal.SIGKILL, f"{what}: the run ended by itself\n{err[-2000:]}"
        assert_nothing_half_written(out)
        recorded, saved = _epochs_recorded(out), _resume_epoch(out)
        assert saved in (recorded, recorded - 1), (what, recorded, saved)  # at most the epoch being saved is lost
        if what == "between weights and metadata":
            # the new weights are in place, the old metadata still describes the kept backup
            assert saved == recorded - 1 >= 1
            assert _sha(out / "last.safetensors") != read_meta(out / "last")["weights_sha256"]
        assert not (out / "model.json").exists()

    done = subprocess.run([*plain, str(out), "--resume"], cwd=ROOT, env=ONE_THREAD, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert reference.wait(timeout=300) == 0, reference.communicate()[1][-2000:]
    assert_nothing_half_written(out)
    assert not list(out.glob(".*"))  # the kills' partial .tmp files and the backup are gone
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    expected = [json.loads(line) for line in (ref / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))
    # Five kills later the run ends exactly where the uninterrupted one does: nothing lost, nothing replayed wrongly.
    assert [h["loss"] for h in history] == pytest.approx([h["loss"] for h in expected], rel=1e-5)
    a, b = load_checkpoint(out), load_checkpoint(ref)
    for (k, v), w in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        torch.testing.assert_close(v, w, rtol=1e-4, atol=1e-5, msg=k)


def test_a_save_interrupted_between_its_two_renames_leaves_a_loadable_pair(tmp_path: Path, monkeypatch) -> None:
    """The unit version of the kill 'between weights and metadata' above (a crash = the JSON rename never runs)."""
    from partkd import io as pio

    model = torch.nn.Linear(2, 2)
    meta = {"role": "teacher", "layout": {}, "class_names": [], "model": {}, "resume": {"epoch": 1}}
    save_checkpoint(tmp_path / "last", model, meta)
    with torch.no_grad():
        model.weight.add_(1.0)
    real = pio.atomic_write_bytes

    def crash_on_json(path: Path, data: bytes) -> None:
        if str(path).endswith(".json"):
            raise KeyboardInterrupt  # stands in for SIGKILL: nothing after this point runs
        real(path, data)

    monkeypatch.setattr(pio, "atomic_write_bytes", crash_on_json)
    for epoch in (2, 3):  # twice in a row: the second save must not take the orphaned epoch-2 weights as backup
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(tmp_path / "last", model, {**meta, "resume": {"epoch": epoch}})
        with torch.no_grad():
            model.weight.add_(1.0)
        stored, state, _ = resume_tensors(tmp_path / "last")
        assert stored["resume"] == {"epoch": 1}
        torch.testing.assert_close(state["weight"], model.weight.detach() - epoch)  # the epoch-1 weights
    monkeypatch.undo()
    save_checkpoint(tmp_path / "last", model, {**meta, "resume": {"epoch": 2}})
    assert read_meta(tmp_path / "last")["resume"] == {"epoch": 2} and not list(tmp_path.glob(".*"))


# ----------------------------------------------------------------------------- 4. full or read-only folder

SITE_FULL_DISK = textwrap.dedent("""
    # Test double loaded by every partkd process of the test (PYTHONPATH): the disk is full for checkpoint
    # weights under $FULL_DISK_DIR; the error surfaces at fsync, as delayed allocation does on real filesystems.
    import errno, os
    _real_fsync = os.fsync
    def fsync(fd):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if path.startswith(os.environ.get("FULL_DISK_DIR", "\\0")) and ".safetensors" in path:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _real_fsync(fd)
    os.fsync = fsync
""")


def test_disk_full_during_a_job_fails_it_with_one_line_and_no_partial_files(tmp_path: Path, monkeypatch) -> None:
    site, full, root = tmp_path / "site", tmp_path / "full", tmp_path / "jobs"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITE_FULL_DISK)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("FULL_DISK_DIR", str(full))
    job_id = jobs.submit(["train-teacher", *DATA, *SMOKE, "--epochs", "2", "--out", str(full / "run")], root)

    def finished():
        job = jobs.get_job(job_id, root)
        return job if job["status"] in jobs.FINISHED else None
    job = wait_for(finished, 120, "the job to end")
    log = jobs.read_log(job_id, root)
    assert job["status"] == "failed" and job["returncode"] == 2, log
    assert job["error"] == f"partkd: error: {full / 'run' / 'last.safetensors'}: cannot write (No space left on " \
                           "device)", log
    assert "Traceback" not in log
    assert "teacher epoch 1/2" in log  # an epoch ran before the checkpoint write failed ...
    assert not (full / "run").exists()  # ... and the run removed the folder it had created: no tmp, no half checkpoint
    wait_for(lambda: not jobs._worker_alive(root), 15, "the worker to exit")


def test_read_only_output_folder_is_one_line_and_leaves_nothing(tmp_path: Path, capsys) -> None:
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("running as root: a 0o555 folder stays writable (the disk-full job test covers this case)")
        rc, err = cli(capsys, "train-teacher", *DATA, *SMOKE, "--epochs", "1", "--out", str(out))
        one_error_line(rc, err, str(out), "cannot write (Permission denied)")
        assert list(out.iterdir()) == []
    finally:
        out.chmod(0o755)


def test_unusable_jobs_root_is_a_job_error(tmp_path: Path, capsys) -> None:
    not_a_folder = tmp_path / "jobs"
    not_a_folder.write_text("a file where the jobs folder should be")
    with pytest.raises(JobError, match="cannot queue a job here"):
        jobs.submit(["data", "synth"], not_a_folder)
    rc, err = cli(capsys, "jobs", "submit", "--root", str(not_a_folder), "--", "data", "synth")
    one_error_line(rc, err, str(not_a_folder), "cannot queue a job here")
    assert jobs.list_jobs(not_a_folder) == [] and not_a_folder.read_text().startswith("a file")


# ------------------------------------------------------------------------------------ 5. untrusted files

class _Payload:
    """Unpickling this object creates the marker file: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (open, (str(self.marker), "w"))


def test_pickle_payload_in_a_pt_checkpoint_never_runs(teacher: Path, tmp_path: Path, capsys) -> None:
    marker = tmp_path / "PWNED"
    evil = tmp_path / "evil.pt"
    torch.save({"blocks.0.weight": _Payload(marker)}, evil)
    (tmp_path / "evil.json").write_text(teacher.with_suffix(".json").read_text())
    for fmt in (2, pickle.HIGHEST_PROTOCOL):  # also a bare pickle renamed .pt
        (tmp_path / f"bare{fmt}.pt").write_bytes(pickle.dumps(_Payload(marker), protocol=fmt))
        (tmp_path / f"bare{fmt}.json").write_text(teacher.with_suffix(".json").read_text())
        with pytest.raises(CheckpointError, match="not a plain tensor state dict"):
            load_checkpoint(tmp_path / f"bare{fmt}.pt")
    with pytest.raises(CheckpointError, match="not a plain tensor state dict"):
        load_checkpoint(evil)
    with pytest.raises(CheckpointError, match="not a plain tensor state dict"):  # as the teacher of a student
        train_student(smoke(), StudentConfig(kd="pmsc"), evil, SPEC, tmp_path / "student")
    rc, err = cli(capsys, "evaluate", str(evil))
    one_error_line(rc, err, "evil.pt", "not a plain tensor state dict")
    assert not marker.exists()
    assert not (tmp_path / "student" / "model.json").exists()


def _rewrite(weights: Path, header: dict | None = None, raw: bytes | None = None) -> None:
    """Replace a checkpoint's weights and record the new sha256, so that only the parser stands in the way."""
    if raw is None:
        blob = weights.read_bytes()
        body = blob[8 + struct.unpack("<Q", blob[:8])[0]:]
        text = json.dumps(header).encode()
        raw = struct.pack("<Q", len(text)) + text + body
    weights.write_bytes(raw)
    update_meta(weights, weights_sha256=hashlib.sha256(raw).hexdigest())


@pytest.mark.parametrize("lie", ["offsets past the end", "shape larger than the data", "overlapping tensors",
                                 "header length past the end", "huge header length", "truncated", "empty"])
def test_safetensors_header_that_lies_is_a_checkpoint_error(teacher: Path, tmp_path: Path, lie: str) -> None:
    for suffix in (".safetensors", ".json"):
        (tmp_path / f"m{suffix}").write_bytes(teacher.with_suffix(suffix).read_bytes())
    weights = tmp_path / "m.safetensors"
    blob = weights.read_bytes()
    size = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + size])
    names = sorted(k for k in header if k != "__metadata__" and header[k]["shape"])
    first, second = header[names[0]], header[names[1]]
    if lie == "offsets past the end":
        _rewrite(weights, {**header, names[0]: {**first, "data_offsets": [0, len(blob)]}})
    elif lie == "shape larger than the data":
        _rewrite(weights, {**header, names[0]: {**first, "shape": [2 ** 31, 2 ** 31]}})
    elif lie == "overlapping tensors":
        _rewrite(weights, {**header, names[1]: {**second, "data_offsets": first["data_offsets"]}})
    elif lie == "header length past the end":
        _rewrite(weights, raw=struct.pack("<Q", size + 64) + blob[8:])
    elif lie == "huge header length":
        _rewrite(weights, raw=struct.pack("<Q", 2 ** 62) + blob[8:])
    elif lie == "truncated":
        _rewrite(weights, raw=blob[:len(blob) // 2])
    else:
        _rewrite(weights, raw=b"")
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(weights)
    assert "\n" not in str(e.value) and str(weights) in str(e.value)


@pytest.mark.parametrize("lie", [{"num_classes": 10 ** 12}, {"temporal_kernel": 10 ** 7 + 1},
                                 {"channels": [10 ** 6] * 5}, {"channels": [16.5] * 5}, {"in_channels": 0}])
def test_metadata_that_lies_about_the_model_is_refused_before_allocating_it(teacher: Path, tmp_path: Path,
                                                                            lie: dict) -> None:
    """The described model is checked against the stored tensor shapes without allocating it (10^12 classes would
    need terabytes)."""
    for suffix in (".safetensors", ".json"):
        (tmp_path / f"m{suffix}").write_bytes(teacher.with_suffix(suffix).read_bytes())
    update_meta(tmp_path / "m", model={**read_meta(teacher)["model"], **lie})
    with pytest.raises(CheckpointError, match="do not fit the described model|model description not understood"):
        load_checkpoint(tmp_path / "m.safetensors")


def test_ids_with_path_parts_are_refused_by_every_job_function(tmp_path: Path, capsys) -> None:
    """tests/test_jobs.py covers get/cancel/read_log and names; these are the other entry points."""
    root = tmp_path / "jobs"
    root.mkdir()
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for bad in ("../x", "..", "a/../../b", "/etc", "x/..", ".."):
        for fn in (jobs.resume, jobs.read_progress, jobs.read_history, jobs.checkpoints, jobs.get_job):
            with pytest.raises(JobError, match="invalid job id"):
                fn(bad, root)
        for command in ("show", "log", "resume", "cancel"):
            rc, err = cli(capsys, "jobs", command, bad, "--root", str(root))
            one_error_line(rc, err, "invalid job id")
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_a_job_record_naming_another_folder_is_ignored(tmp_path: Path) -> None:
    """A job.json whose id points outside its folder (edited or planted) is never listed, started or written."""
    root = tmp_path / "jobs"
    planted = root / "20250101-000000-abcdef"
    planted.mkdir(parents=True)
    record = {"id": "../../escape", "name": "x", "argv": ["data", "synth", "--out", str(tmp_path / "ran")],
              "status": "queued", "pid": None, "created": 1.0, "out_dir": str(tmp_path / "ran"), "cwd": str(tmp_path)}
    (planted / "job.json").write_text(json.dumps(record))
    assert jobs.list_jobs(root) == []
    time.sleep(1.0)  # a worker, had one been started, would have run the planted command by now
    assert not (tmp_path / "ran").exists() and not (tmp_path.parent / "escape").exists()
    assert json.loads((planted / "job.json").read_text()) == record


# --------------------------------------------------------------------------------------------- 6. mismatches

def test_checkpoint_for_another_class_set_is_one_line(teacher: Path, capsys) -> None:
    rc, err = cli(capsys, "evaluate", str(teacher), "--classes", "3")
    one_error_line(rc, err, str(teacher), "trained on 4 classes", "the data has 3")


def test_checkpoint_for_another_channel_count_is_one_line(teacher: Path, tmp_path: Path, capsys) -> None:
    from partkd.checkpoints import build_from_meta

    meta = read_meta(teacher)
    meta["model"] = {**meta["model"], "in_channels": 2}
    save_checkpoint(tmp_path / "xy", build_from_meta(meta), meta)
    rc, err = cli(capsys, "evaluate", str(tmp_path / "xy.safetensors"))
    one_error_line(rc, err, "xy.safetensors", "expects 2 channels per joint, the data has 3")


def test_teacher_for_another_class_set_is_refused_before_training(teacher: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="trained on 4 classes") as e:
        train_student(smoke(), StudentConfig(kd="pmsc"), teacher, replace(SPEC, num_classes=3), tmp_path)
    assert "\n" not in str(e.value) and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("problem", ["weights deleted", "a student given as teacher"])
def test_student_whose_teacher_is_missing_or_wrong_is_one_line(teacher: Path, tmp_path: Path, capsys,
                                                               problem: str) -> None:
    fake = tmp_path / "teacher"
    (tmp_path / "teacher.json").write_text(teacher.with_suffix(".json").read_text())
    if problem == "weights deleted":
        expected = "checkpoint weights not found"
    else:
        (tmp_path / "teacher.safetensors").write_bytes(teacher.read_bytes())
        update_meta(fake, role="student")
        expected = "a teacher is needed"
    out = tmp_path / "student"
    rc, err = cli(capsys, "train-student", *DATA, *SMOKE, "--epochs", "1", "--teacher", f"{fake}.safetensors",
                  "--out", str(out))
    one_error_line(rc, err, "teacher.", expected)
    assert not (out / "model.json").exists() and not (out / "last.json").exists()


def test_nan_at_epoch_two_stops_and_keeps_epoch_one_then_resume_completes(tmp_path: Path, monkeypatch,
                                                                          capsys) -> None:
    import torch.nn.functional as F

    from partkd.engine.loop import RunLog

    epoch = {"now": 0}
    real_ce, real_start = F.cross_entropy, RunLog.start_epoch

    def start_epoch(self, e, steps, first_step):
        epoch["now"] = e
        real_start(self, e, steps, first_step)

    def cross_entropy(*a, **k):
        loss = real_ce(*a, **k)
        return loss * float("nan") if epoch["now"] == 1 else loss  # the second epoch blows up

    monkeypatch.setattr(RunLog, "start_epoch", start_epoch)
    monkeypatch.setattr(F, "cross_entropy", cross_entropy)
    out = tmp_path / "run"
    argv = ["train-teacher", *DATA, *SMOKE, "--epochs", "3", "--out", str(out)]
    rc, err = cli(capsys, *argv)
    one_error_line(rc, err, "loss is not finite at epoch 2 step 1", "last good checkpoint last.* (epoch 1) kept")
    stored, state, _ = resume_tensors(out / "last")  # intact: the weights match their sha256
    assert stored["resume"]["epoch"] == 1 and [h["epoch"] for h in stored["history"]] == [1]
    assert all(torch.isfinite(t).all() for t in state.values() if t.is_floating_point())
    load_checkpoint(out / "last")
    assert not (out / "model.json").exists() and not list(out.glob(".*"))

    monkeypatch.undo()  # the cause is gone: resuming continues from epoch 1 and finishes
    rc, err = cli(capsys, *argv, "--resume")
    assert rc == 0, err[-2000:]
    assert [h["epoch"] for h in read_meta(out / "model")["history"]] == [1, 2, 3]
    assert read_meta(out / "model")["history"][0] == stored["history"][0]


def test_project_errors_are_never_multi_line(tmp_path: Path) -> None:
    """The bad inputs above produce PartKDError subclasses; the CLI prints str(e) as is, so it must be one line."""
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  not json")
    with pytest.raises(PartKDError) as e:
        read_meta(bad)
    assert "\n" not in str(e.value)
