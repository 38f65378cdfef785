"""Background jobs: real `partkd` processes run by a detached worker, queued, cancelled, resumed."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from partkd.cli import main
from partkd.engine import jobs
from partkd.errors import JobError
from helpers import wait_for

PY = sys.executable
FAST = ["data", "synth", "--classes", "2", "--clips-per-class", "2", "--frames", "8"]  # --out is added


def _train_argv(epochs: int) -> list[str]:
    """A tiny CPU teacher run on synthetic data, `epochs` long (it saves last.* after every epoch)."""
    return ["train-teacher", "--data", "synthetic", "--classes", "2", "--clips-per-class", "8", "--batch-size", "4",
            "--preset", "smoke", "--epochs", str(epochs), "--device", "cpu"]


def wait_status(root: Path, job_id: str, *statuses: str, timeout: float = 60.0) -> dict:
    """Wait until the job has one of `statuses`; return its record."""
    def check():
        job = jobs.get_job(job_id, root)
        return job if job["status"] in statuses else None
    return wait_for(check, timeout, f"job {job_id} to become {'/'.join(statuses)}")


def wait_recorded(root: Path, job_id: str, status: str) -> dict:
    """Wait for a status by reading job.json directly (no refresh, so no worker gets started)."""
    def check():
        job = json.loads((root / job_id / "job.json").read_text())
        return job if job["status"] == status else None
    return wait_for(check, 30, f"job {job_id} to be recorded {status}")


def worker_pid(root: Path) -> int | None:
    """The pid written by the live worker, or None when no worker holds the lock."""
    return int((root / ".worker.lock").read_text()) if jobs._worker_alive(root) else None


@pytest.fixture
def root(tmp_path: Path):
    """A fresh jobs root; every job still alive at the end is killed."""
    r = tmp_path / "jobs"
    yield r
    for job in jobs.list_jobs(r):
        if job["status"] == "running" and jobs._alive(job):
            os.killpg(job["pid"], signal.SIGKILL)
    wait_for(lambda: not jobs._worker_alive(r), 15, "the worker to exit")


def test_submit_runs_the_command_and_records_success(root):
    job_id = jobs.submit(FAST, root, name="fast one")
    job = wait_status(root, job_id, "done", "failed")
    assert job["status"] == "done" and job["returncode"] == 0 and job["error"] is None
    assert job["name"] == "fast one" and job["id"] == job_id
    assert job["argv"][-2:] == ["--out", str(root / job_id / "run")] and job["out_dir"] == str(root / job_id / "run")
    assert job["created"] <= job["started"] <= job["finished"]
    assert jobs.read_log(job_id, root).strip()
    assert [j["id"] for j in jobs.list_jobs(root)] == [job_id]
    assert sorted(p.name for p in Path(job["out_dir"]).iterdir()) == ["high.npz", "low.npz"]
    wait_for(lambda: not jobs._worker_alive(root), 10, "the idle worker to exit")


def test_progress_history_and_checkpoints_are_read_from_the_run_folder(root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    job_id = jobs.submit(["data", "synth", "--out", "elsewhere"], root)
    assert jobs.get_job(job_id, root)["out_dir"] == str(tmp_path / "elsewhere")
    jobs.cancel(job_id, root, wait=True)
    job_id = jobs.submit(FAST, root)
    jobs.cancel(job_id, root, wait=True)
    run = Path(jobs.get_job(job_id, root)["out_dir"])
    assert jobs.read_progress(job_id, root) is None and jobs.read_history(job_id, root) == []
    assert jobs.checkpoints(job_id, root) == []
    run.mkdir(exist_ok=True)
    (run / "progress.json").write_text(json.dumps({"phase": "train", "epoch": 2, "epochs": 5}))
    (run / "history.jsonl").write_text('{"epoch": 1, "loss": 2.0}\n{"epoch": 2, "loss": 1.5}\n{"epoch": 3, "lo')
    for stem in ("last", "teacher/model", "student/model", "orphan"):
        (run / f"{stem}.safetensors").parent.mkdir(parents=True, exist_ok=True)
        (run / f"{stem}.safetensors").write_bytes(b"x")
        if stem != "orphan":
            (run / f"{stem}.json").write_text("{}")
    assert jobs.read_progress(job_id, root)["epoch"] == 2
    assert [r["epoch"] for r in jobs.read_history(job_id, root)] == [1, 2]
    assert jobs.checkpoints(job_id, root) == [run / "student/model.safetensors", run / "teacher/model.safetensors"]
    with open(root / job_id / "log.txt", "a") as log:
        log.write("one\n\rbar 10%\rbar 90%\r       \repoch 1 done\ntwo\n\rbar 40%")
    assert jobs.read_log(job_id, root, tail=3) == "epoch 1 done\ntwo\nbar 40%"


def test_failed_command_records_exit_status_and_last_error_line(root):
    job_id = jobs.submit(["no-such-command"], root)
    job = wait_status(root, job_id, "done", "failed")
    assert job["status"] == "failed" and job["returncode"] == 2
    assert "invalid choice" in job["error"] and "\n" not in job["error"]


def test_three_jobs_with_limit_one_run_one_at_a_time_in_order(root):
    ids = [jobs.submit(FAST, root) for _ in range(3)]
    done = [wait_status(root, i, "done", "failed", timeout=60) for i in ids]
    assert [j["status"] for j in done] == ["done"] * 3
    spans = [(j["started"], j["finished"]) for j in done]
    assert all(spans[k][1] <= spans[k + 1][0] for k in range(2)), spans


def test_ids_and_names_with_path_parts_are_refused(root, tmp_path):
    jobs.submit(FAST, root)
    before = sorted(p.name for p in tmp_path.iterdir())
    for bad in ("../x", "..", "a/b", "/etc", "a\\b", "", ".hidden"):
        with pytest.raises(JobError):
            jobs.get_job(bad, root)
        with pytest.raises(JobError):
            jobs.cancel(bad, root)
        with pytest.raises(JobError):
            jobs.read_log(bad, root)
    for bad in ("../escape", "a/b", "..", "x\\y"):
        with pytest.raises(JobError):
            jobs.submit(FAST, root, name=bad)
    with pytest.raises(JobError):
        jobs.submit([], root)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert len(jobs.list_jobs(root)) == 1


def test_concurrency_limit_is_stored_per_root(root):
    assert jobs.max_running(root) == 1
    jobs.set_max_running(3, root)
    assert jobs.max_running(root) == 3
    with pytest.raises(JobError):
        jobs.set_max_running(0, root)


def test_cli_submit_list_show_log_limit(root, capsys):
    def cli(*args: str) -> tuple[int, str, str]:
        rc = main(["jobs", *args])
        out, err = capsys.readouterr()
        return rc, out, err

    rc, out, err = cli("submit", "--root", str(root), "--name", "from-cli", "--", *FAST)
    assert rc == 0, err
    job_id = out.strip()
    wait_status(root, job_id, "done", "failed")
    rc, out, _ = cli("list", "--root", str(root))
    assert rc == 0 and job_id in out and "done" in out and "from-cli" in out
    shown = json.loads(cli("show", job_id, "--root", str(root), "--json")[1])
    assert shown["status"] == "done" and shown["progress"] is None and shown["checkpoints"] == []
    assert "high.npz" in cli("log", job_id, "--root", str(root), "--tail", "5")[1]
    rc, _, err = cli("show", "../etc", "--root", str(root))
    assert rc == 2 and err.count("\n") == 1 and "invalid job id" in err
    rc, _, err = cli("cancel", job_id, "--root", str(root))
    assert rc == 2 and "cannot cancel a done job" in err
    assert cli("limit", "2", "--root", str(root))[1].strip() == "2" and jobs.max_running(root) == 2
    with pytest.raises(SystemExit):
        main(["jobs", "--help"])
    help_text = capsys.readouterr().out
    assert all(c in help_text for c in ("list", "show", "submit", "cancel", "resume", "worker", "log", "limit"))


def test_job_outlives_the_submitting_process(root):
    code = f"from partkd.engine import jobs; print(jobs.submit({FAST!r}, {str(root)!r}))"
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.strip()
    assert json.loads((root / job_id / "job.json").read_text())["status"] in ("queued", "running")
    job = wait_status(root, job_id, "done", "failed")
    assert job["status"] == "done", jobs.read_log(job_id, root)
    assert (Path(job["out_dir"]) / "high.npz").is_file()


def test_cancelling_the_running_job_starts_the_next(root):
    slow = jobs.submit(_train_argv(500), root)
    queued = jobs.submit(FAST, root)
    dropped = jobs.submit(FAST, root)
    wait_for(lambda: jobs.read_progress(slow, root), 120, "training to start")
    assert jobs.get_job(queued, root)["status"] == "queued"
    assert jobs.cancel(dropped, root)["status"] == "cancelled"
    job = jobs.cancel(slow, root, grace_s=60, wait=True)
    assert job["status"] == "cancelled" and not jobs._alive(job)
    assert job["returncode"] == 143 and (Path(job["out_dir"]) / "last.json").is_file()  # graceful: checkpoint saved
    nxt = wait_status(root, queued, "done", "failed")
    assert nxt["status"] == "done" and nxt["started"] >= job["finished"]
    assert jobs.get_job(dropped, root)["started"] is None
    with pytest.raises(JobError):
        jobs.cancel(queued, root)


def _kill_worker(root: Path) -> None:
    """SIGKILL the root's worker and wait until its lock is free."""
    os.kill(wait_for(lambda: worker_pid(root), 10, "the worker pid"), signal.SIGKILL)
    wait_for(lambda: not jobs._worker_alive(root), 10, "the worker to die")


def test_job_whose_worker_and_process_died_is_marked_failed(root):
    slow = jobs.submit(_train_argv(500), root)
    running = wait_recorded(root, slow, "running")
    _kill_worker(root)
    assert jobs.refresh(root) == [] and jobs.get_job(slow, root)["status"] == "running"  # still alive
    os.killpg(running["pid"], signal.SIGKILL)
    wait_for(lambda: not jobs._alive(running), 10, "the job process to die")
    assert jobs.refresh(root) == [slow]
    lost = jobs.get_job(slow, root)
    assert lost["status"] == "failed" and lost["error"] and lost["finished"] >= running["started"]
    assert wait_status(root, jobs.submit(FAST, root), "done", "failed")["status"] == "done"


def test_new_worker_respects_and_cancels_an_orphaned_job_then_runs_the_queue(root):
    slow = jobs.submit(_train_argv(500), root)
    after = jobs.submit(FAST, root)
    running = wait_recorded(root, slow, "running")
    _kill_worker(root)
    jobs.list_jobs(root)  # sees the waiting queue and starts a new worker
    wait_for(lambda: jobs._worker_alive(root), 10, "a new worker")
    time.sleep(1.5)
    assert jobs.get_job(after, root)["status"] == "queued"  # the orphan still counts against the limit
    assert jobs.cancel(slow, root, grace_s=60, wait=True)["status"] == "cancelled"
    assert not jobs._alive(running)
    assert wait_status(root, after, "done", "failed")["status"] == "done"


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_completes_from_the_checkpoint(root):
    job_id = jobs.submit(_train_argv(4), root)
    last = root / job_id / "run" / "last.json"

    def resume_epoch() -> int:
        return json.loads(last.read_text())["resume"]["epoch"] if last.exists() else 0
    wait_for(lambda: resume_epoch() >= 1, 240, "the first epoch's checkpoint")
    os.killpg(jobs.get_job(job_id, root)["pid"], signal.SIGKILL)
    failed = wait_status(root, job_id, "failed", "done")
    assert failed["status"] == "failed" and failed["error"] == "killed by signal SIGKILL"
    saved = resume_epoch()
    resumed = jobs.resume(job_id, root)
    assert resumed["argv"][-1] == "--resume" and resumed["status"] == "queued"
    done = wait_status(root, job_id, "done", "failed", timeout=240)
    log = jobs.read_log(job_id, root, tail=10_000)
    assert done["status"] == "done" and done["attempts"] == 2, log
    after = [int(m) for m in re.findall(r"epoch (\d+)/4:", log.split("--- resumed", 1)[1])]
    assert after and min(after) == saved + 1 and max(after) == 4  # continued, not restarted
    assert [r["epoch"] for r in jobs.read_history(job_id, root)] == [1, 2, 3, 4]
    assert [p.name for p in jobs.checkpoints(job_id, root)] == ["model.safetensors"]
    with pytest.raises(JobError):
        jobs.resume(job_id, root)


def test_a_job_runs_its_phases_in_order_and_resumes_the_one_that_failed(root):
    """`then`: commands run after the first succeeds, in the same job (the app's teacher job computes E this way);
    `{out}` is the job's output folder. A failed phase is resumed alone, without `--resume` and without the phases
    before it."""
    job_id = jobs.submit(FAST, root, then=[["data", "inspect", jobs.OUT + "/high.npz"]])
    job = wait_status(root, job_id, "done", "failed")
    out = root / job_id / "run"
    assert job["status"] == "done" and job["phase"] == 1, jobs.read_log(job_id, root)
    assert job["then"] == [["data", "inspect", f"{out}/high.npz"]]
    assert jobs.commands(job) == [job["argv"], job["then"][0]]
    log = jobs.read_log(job_id, root, tail=200)
    assert log.index("high.npz: 4 clips") < log.index("clips:   4")      # synth, then inspect

    job_id = jobs.submit(FAST, root, then=[["data", "inspect", jobs.OUT + "/later.npz"]])
    failed = wait_status(root, job_id, "done", "failed")
    assert failed["status"] == "failed" and failed["phase"] == 1
    out = root / job_id / "run"
    (out / "later.npz").write_bytes((out / "high.npz").read_bytes())
    resumed = jobs.resume(job_id, root)
    assert "--resume" not in resumed["argv"] and resumed["phase"] == 1
    done = wait_status(root, job_id, "done", "failed")
    after = jobs.read_log(job_id, root, tail=200).split("--- resumed", 1)[1]
    assert done["status"] == "done" and "clips:   4" in after and "high.npz: 4 clips" not in after
