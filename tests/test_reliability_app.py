"""Restarted app: a job keeps running when the Streamlit server (and its whole process group) is killed, and the
Train page of the restarted app shows it with live progress again."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path


from partkd.engine import jobs
from helpers import app_page, wait_for

ROOT = Path(__file__).resolve().parents[1]
LONG_TRAINING = ["train-teacher", "--data", "synthetic", "--classes", "2", "--clips-per-class", "8", "--batch-size",
                 "4", "--preset", "smoke", "--epochs", "500", "--device", "cpu"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int, env: dict) -> subprocess.Popen:
    """`streamlit run app.py`, headless, in a process group of its own (as a terminal would run it)."""
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, process_group=0)


def _get(port: int, path: str) -> bytes | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2) as r:
            return r.read()
    except OSError:
        return None


def _position(job_id: str, root: Path) -> tuple | None:
    p = jobs.read_progress(job_id, root)
    return (p["epoch"], p["step"]) if p else None


def test_job_survives_an_app_restart_and_the_train_page_shows_it_live_again(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "jobs"
    monkeypatch.setenv("PARTKD_JOBS", str(root))
    monkeypatch.chdir(ROOT)
    env = dict(os.environ)
    servers: list[subprocess.Popen] = []
    try:
        port = _free_port()
        servers.append(_serve(port, env))
        wait_for(lambda: _get(port, "_stcore/health") == b"ok", 90, "the app to serve")
        # The job is submitted by a process inside the app's process group, as the Train page does it inside the
        # server; killing the group below is what closing the app's terminal does.
        code = f"from partkd.engine import jobs; print(jobs.submit({LONG_TRAINING!r}, name='restart'))"
        done = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=60, process_group=servers[0].pid)
        assert done.returncode == 0, done.stderr
        job_id = done.stdout.strip()
        first = wait_for(lambda: _position(job_id, root), 120, "training to report progress")
        before = jobs.get_job(job_id, root)
        assert before["status"] == "running"

        os.killpg(servers[0].pid, signal.SIGKILL)
        servers[0].wait(timeout=30)
        assert _get(port, "_stcore/health") is None  # the app is gone ...
        wait_for(lambda: (_position(job_id, root) or first) > first, 60, "progress while the app is down")
        job = jobs.get_job(job_id, root)  # ... the job is not: same process, still running, progress advancing
        assert job["status"] == "running" and job["pid"] == before["pid"] and jobs._alive(job)
        assert job["attempts"] == 1

        port = _free_port()
        servers.append(_serve(port, env))
        wait_for(lambda: _get(port, "_stcore/health") == b"ok", 90, "the restarted app to serve")
        assert _get(port, "Train")  # the page is served again

        at = app_page("train")
        assert not at.exception, [e.value for e in at.exception]
        table = at.dataframe[0].value
        assert list(table["id"]) == [job_id] and list(table["status"]) == ["running"]
        assert any(m.label == "Status" and m.value == "running" for m in at.metric)
        shown = at.progress[0].text
        assert shown.startswith("step ") and " of epoch " in shown
        moved = _position(job_id, root)
        wait_for(lambda: _position(job_id, root) != moved, 60, "more progress")
        at.run()
        assert not at.exception and at.progress[0].text != shown  # live: the bar follows the running job
        assert jobs._alive(jobs.get_job(job_id, root))
    finally:
        for job in jobs.list_jobs(root):
            if job["status"] == "running" and jobs._alive(job):
                os.killpg(job["pid"], signal.SIGKILL)
        for server in servers:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
    wait_for(lambda: not jobs._worker_alive(root), 30, "the worker to exit")
