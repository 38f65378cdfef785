"""Background jobs: one `partkd ...` command per job, run by a detached worker with a concurrency limit.

A jobs root (`$PARTKD_JOBS` or `./jobs`) holds one folder per job with `job.json`, `log.txt` and the
command's output folder `run/`, plus `config.json` (the limit), `.lock` (guards every status change),
`.worker.lock` (held by the single live worker) and `.worker.spawn` (a worker that is still starting).
Jobs run in their own session, so they outlive the process that submitted them and can be signalled
as a group.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from partkd.engine.run_config import write_run_config
from partkd.errors import JobError, PartKDError, where
from partkd.io import atomic_write_json

STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
DEFAULT_GRACE_S = 30.0
POLL_S = 0.2
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def jobs_root(root: Path | str | None = None) -> Path:
    """The absolute jobs root: `root`, else `$PARTKD_JOBS`, else `./jobs`."""
    return Path(root or os.environ.get("PARTKD_JOBS") or "jobs").expanduser().resolve()


def _check_id(job_id: str) -> str:
    """Refuse ids that could name anything but a folder directly inside the root."""
    if not isinstance(job_id, str) or not _ID_RE.fullmatch(job_id) or ".." in job_id:
        raise JobError(where(repr(job_id), "invalid job id (letters, digits, '-', '_', '.'; no '..')"))
    return job_id


def _check_name(name: str) -> str:
    """Refuse names with path separators, '..' or control characters."""
    bad = any(s in name for s in ("/", "\\", "..")) or any(ord(c) < 32 for c in name)
    if bad or not name.strip() or len(name) > 200:
        raise JobError(where(repr(name), "invalid job name (no path separators, '..' or control characters)"))
    return name


def _job_dir(job_id: str, root: Path | str | None) -> Path:
    """The folder of an existing job (JobError when unknown)."""
    folder = jobs_root(root) / _check_id(job_id)
    if not (folder / "job.json").is_file():
        raise JobError(where(folder, "no such job"))
    return folder


@contextmanager
def _locked(base: Path) -> Iterator[None]:
    """Hold the root's status lock (exclusive `flock` on `<root>/.lock`)."""
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read(folder: Path) -> dict[str, Any]:
    """Read a job's `job.json`."""
    try:
        return json.loads((folder / "job.json").read_text())
    except (OSError, ValueError) as e:
        raise JobError(where(folder / "job.json", f"cannot read ({e})")) from None


def _write(folder: Path, job: dict[str, Any]) -> None:
    """Atomically replace a job's `job.json` (call with the status lock held)."""
    atomic_write_json(folder / "job.json", job)


def _worker_alive(base: Path) -> bool:
    """True when some process holds the root's worker lock."""
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".worker.lock", "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def _proc_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (from /proc), or None when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _alive(job: dict[str, Any]) -> bool:
    """True when the job's recorded process still runs (not a zombie, not a recycled pid)."""
    pid = job.get("pid")
    if not pid:
        return False
    if Path("/proc/self/stat").exists():
        start, recorded = _proc_start(pid), job.get("pid_start")
        return start is not None and (recorded is None or start == recorded)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ensure_worker(base: Path) -> None:
    """Start a detached `partkd jobs worker` unless one holds the worker lock or is still starting
    (its pid is in `.worker.spawn` until it holds the lock). Call with the status lock held."""
    if _worker_alive(base):
        return
    try:
        if _alive(json.loads((base / ".worker.spawn").read_text())):
            return
    except (OSError, ValueError):
        pass
    with open(base / "worker.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "partkd", "jobs", "worker", "--root", str(base)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            cwd=base,
        )
    atomic_write_json(base / ".worker.spawn", {"pid": proc.pid, "pid_start": _proc_start(proc.pid)})


def _out_dir(argv: list[str], cwd: str) -> Path | None:
    """The value of `--out` in an argv (absolute, resolved against `cwd`), or None."""
    for i, a in enumerate(argv):
        if a == "--out" and i + 1 < len(argv):
            return Path(cwd, argv[i + 1]).resolve()
        if a.startswith("--out="):
            return Path(cwd, a.split("=", 1)[1]).resolve()
    return None


def _default_name(argv: list[str]) -> str:
    """A job name from the command words before the first option, e.g. 'data synth'."""
    words: list[str] = []
    for a in argv:
        if a.startswith("-") or len(words) == 2:
            break
        words.append(a)
    return " ".join(words) or argv[0]


def _new_id(base: Path) -> tuple[str, Path]:
    """Create a fresh, sortable job folder `YYYYmmdd-HHMMSS-xxxxxx` and return (id, folder)."""
    base.mkdir(parents=True, exist_ok=True)
    while True:
        job_id = f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        try:
            (base / job_id).mkdir()
        except FileExistsError:
            continue
        return job_id, base / job_id


#: In a command that follows the first (`submit(..., then=...)`), the job's output folder.
OUT = "{out}"


def submit(
    argv: list[str],
    root: Path | str | None = None,
    name: str | None = None,
    config: dict[str, Any] | None = None,
    then: Sequence[Sequence[str]] = (),
) -> str:
    """Queue `partkd *argv` as a job (adding `--out <job>/run` when argv has no --out); with a resolved run
    `config` (run_config.run_config), the job runs `partkd KIND --config <job>/config.toml`; each command of `then`
    (OUT standing for the output folder) runs after the one before succeeds, as the job's next phase. Returns its
    id."""
    if config is not None:
        argv = [config["kind"], *argv]
    argv = [str(a) for a in argv]
    if not argv:
        raise JobError(where("submit", "empty command line"))
    if name is not None:
        _check_name(name)
    base = jobs_root(root)
    try:
        with _locked(base):
            job_id, folder = _new_id(base)
            cwd = os.getcwd()
            out = _out_dir(argv, cwd)
            if out is None:
                out = folder / "run"
                argv += ["--out", str(out)]
            if config is not None:
                argv += ["--config", str(write_run_config(folder / "config.toml", config))]
            (folder / "log.txt").touch()
            _write(
                folder,
                {
                    "id": job_id,
                    "name": name or _default_name(argv),
                    "argv": argv,
                    "then": [[str(a).replace(OUT, str(out)) for a in cmd] for cmd in then],
                    "phase": 0,
                    "status": "queued",
                    "pid": None,
                    "pid_start": None,
                    "created": time.time(),
                    "started": None,
                    "finished": None,
                    "returncode": None,
                    "error": None,
                    "out_dir": str(out),
                    "cwd": cwd,
                    "attempts": 0,
                    "cancel_deadline": None,
                },
            )
            _ensure_worker(base)
    except OSError as e:  # the root is a file, read-only, full, ...
        raise JobError(where(base, f"cannot queue a job here ({e.strerror or e})")) from None
    return job_id


def _load_all(base: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every job in the root as (folder, job), oldest first."""
    if not base.is_dir():
        return []
    jobs = []
    for folder in base.iterdir():
        if (folder / "job.json").is_file() and _ID_RE.fullmatch(folder.name):
            try:
                job = _read(folder)
            except JobError:
                continue
            if isinstance(job, dict) and job.get("id") == folder.name:  # an edited record naming another job
                jobs.append((folder, job))
    return sorted(jobs, key=lambda fj: (fj[1].get("created") or 0, fj[0].name))


def _finish(folder: Path, job: dict[str, Any], status: str, returncode: int | None, error: str | None) -> None:
    """Record a job's end (call with the status lock held)."""
    job.update(status=status, returncode=returncode, error=error, finished=time.time())
    _write(folder, job)


def _error_line(log: Path, returncode: int | None) -> str:
    """The last line of the log that mentions an error, else a line naming the exit status."""
    if returncode is not None and returncode < 0:
        return f"killed by signal {signal.Signals(-returncode).name}"
    lines = [ln.strip() for ln in _tail(log, 200).splitlines() if ln.strip()]
    for line in reversed(lines):
        if "error" in line.lower() or "exception" in line.lower():
            return line
    if returncode is None:
        return "exit status unknown: the worker that started the job died"
    return lines[-1] if lines else f"exit status {returncode}"


def refresh(root: Path | str | None = None) -> list[str]:
    """When no worker is alive: mark running jobs whose process is gone as failed (cancelled if a cancel
    was pending) and start a worker for queued jobs or pending cancels. Returns the ids marked."""
    base = jobs_root(root)
    if not base.is_dir():
        return []
    lost = []
    with _locked(base):
        if _worker_alive(base):
            return []
        jobs = _load_all(base)
        for folder, job in jobs:
            if job["status"] == "running" and not _alive(job):
                _record_end(folder, job, None)
                lost.append(job["id"])
        if any(
            job["status"] == "queued" or (job["status"] == "running" and job.get("cancel_deadline")) for _, job in jobs
        ):
            _ensure_worker(base)
    return lost


def list_jobs(root: Path | str | None = None) -> list[dict[str, Any]]:
    """All jobs (the contents of their `job.json`), oldest first, after `refresh`."""
    refresh(root)
    return [job for _, job in _load_all(jobs_root(root))]


def get_job(job_id: str, root: Path | str | None = None) -> dict[str, Any]:
    """One job's `job.json` (after `refresh`); JobError when unknown."""
    folder = _job_dir(job_id, root)
    refresh(root)
    return _read(folder)


def _signal_group(job: dict[str, Any], sig: signal.Signals) -> None:
    """Send `sig` to the job's process group when its process is still the recorded one."""
    if _alive(job):
        try:
            os.killpg(job["pid"], sig)
        except ProcessLookupError:
            pass


def cancel(
    job_id: str, root: Path | str | None = None, grace_s: float = DEFAULT_GRACE_S, wait: bool = False
) -> dict[str, Any]:
    """Cancel a job: queued ones at once; running ones get SIGTERM (graceful), then SIGKILL after
    `grace_s` (sent by the worker). With `wait`, return only once the job has ended. Returns the job."""
    base = jobs_root(root)
    folder = _job_dir(job_id, base)
    with _locked(base):
        job = _read(folder)
        if job["status"] == "queued":
            _finish(folder, job, "cancelled", None, None)
            return job
        if job["status"] != "running":
            raise JobError(where(job_id, f"cannot cancel a {job['status']} job"))
        job["cancel_deadline"] = job.get("cancel_deadline") or time.time() + grace_s
        _write(folder, job)
        _signal_group(job, signal.SIGTERM)
        _ensure_worker(base)
    while wait and _read(folder)["status"] not in FINISHED:
        time.sleep(POLL_S)
        refresh(base)
    return _read(folder)


def resume(job_id: str, root: Path | str | None = None) -> dict[str, Any]:
    """Re-queue a failed or cancelled job with `--resume` appended to its command; returns the job."""
    base = jobs_root(root)
    folder = _job_dir(job_id, base)
    refresh(base)
    with _locked(base):
        job = _read(folder)
        if job["status"] not in ("failed", "cancelled"):
            raise JobError(where(job_id, f"cannot resume a {job['status']} job (only failed or cancelled)"))
        if not job.get("phase") and "--resume" not in job["argv"]:  # a later phase runs again from its start
            job["argv"].append("--resume")
        job.update(
            status="queued",
            pid=None,
            pid_start=None,
            started=None,
            finished=None,
            returncode=None,
            error=None,
            cancel_deadline=None,
        )
        with open(folder / "log.txt", "a") as log:
            log.write(f"\n--- resumed {datetime.now():%Y-%m-%d %H:%M:%S} ---\n")
        _write(folder, job)
        _ensure_worker(base)
    return job


def max_running(root: Path | str | None = None) -> int:
    """The root's concurrency limit (`config.json`, default 1)."""
    try:
        return max(1, int(json.loads((jobs_root(root) / "config.json").read_text())["max_running"]))
    except (OSError, ValueError, KeyError, TypeError):
        return 1


def set_max_running(limit: int, root: Path | str | None = None) -> None:
    """Set how many jobs the worker runs at once (applies at its next poll)."""
    if limit < 1:
        raise JobError(where("max_running", f"must be at least 1, got {limit}"))
    atomic_write_json(jobs_root(root) / "config.json", {"max_running": int(limit)})


def _tail(path: Path, tail: int) -> str:
    """The last `tail` lines of a text file (reading only its end), '' when missing. Progress bars
    redrawn with carriage returns show only their latest state, as on a terminal."""
    if tail <= 0:
        return ""
    try:
        with open(path, "rb") as f:
            end = start = f.seek(0, os.SEEK_END)
            data = b""
            while start > 0 and data.count(b"\n") <= tail:
                start = max(0, start - max(65536, 2 * len(data)))
                f.seek(start)
                data = f.read(end - start)
    except OSError:
        return ""
    lines = data.decode(errors="replace").split("\n")[1 if start > 0 else 0 :]
    if lines and not lines[-1]:
        lines.pop()
    return "\n".join(_shown(line) for line in lines[-tail:])


def _shown(line: str) -> str:
    """What a terminal shows of a line redrawn with '\\r': its last non-blank segment."""
    return next((seg for seg in reversed(line.split("\r")) if seg.strip()), "")


def read_log(job_id: str, root: Path | str | None = None, tail: int = 200) -> str:
    """The last `tail` lines of the job's combined stdout/stderr."""
    return _tail(_job_dir(job_id, root) / "log.txt", tail)


def _run_dir(job_id: str, root: Path | str | None) -> Path:
    """The job's output folder."""
    return Path(_read(_job_dir(job_id, root))["out_dir"])


def read_progress(job_id: str, root: Path | str | None = None) -> dict[str, Any] | None:
    """The run's `progress.json`, or None before it exists."""
    try:
        return json.loads((_run_dir(job_id, root) / "progress.json").read_text())
    except (OSError, ValueError):
        return None


def read_history(job_id: str, root: Path | str | None = None) -> list[dict[str, Any]]:
    """The run's `history.jsonl` as a list of dicts (a half-written last line is skipped)."""
    try:
        text = (_run_dir(job_id, root) / "history.jsonl").read_text()
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


def checkpoints(job_id: str, root: Path | str | None = None) -> list[Path]:
    """Finished model checkpoints under the run folder (`*.safetensors` with a `.json`, not `last.*`)."""
    run = _run_dir(job_id, root)
    if not run.is_dir():
        return []
    return sorted(p for p in run.rglob("*.safetensors") if p.stem != "last" and p.with_suffix(".json").is_file())


def commands(job: dict[str, Any]) -> list[list[str]]:
    """A job's command lines in the order its phases run them: `argv`, then each of `then`."""
    return [job["argv"], *job.get("then", [])]


def unique_name(name: str, root: Path | str | None = None) -> str:
    """`name`, or the first of `name #2`, `name #3`, ... that no job in the root is called."""
    taken = {job.get("name") for _, job in _load_all(jobs_root(root))}
    return next(n for n in itertools.chain([name], (f"{name} #{i}" for i in itertools.count(2))) if n not in taken)


def _start(folder: Path, job: dict[str, Any]) -> subprocess.Popen | None:
    """Launch a queued job's phase in its own session, output to its log (call with the status lock held).
    Returns None (job marked failed) when the process cannot be created."""
    try:
        with open(folder / "log.txt", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "partkd", *commands(job)[job.get("phase", 0)]],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                cwd=job["cwd"] if Path(job["cwd"]).is_dir() else folder,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
    except OSError as e:
        _finish(folder, job, "failed", None, f"cannot start: {e}")
        return None
    job.update(
        status="running",
        pid=proc.pid,
        pid_start=_proc_start(proc.pid),
        started=time.time(),
        attempts=job.get("attempts", 0) + 1,
    )
    _write(folder, job)
    return proc


def _record_end(folder: Path, job: dict[str, Any], rc: int | None) -> None:
    """Mark a job that has ended as cancelled, done or failed (call with the status lock held)."""
    if job.get("cancel_deadline"):
        _finish(folder, job, "cancelled", rc, None)
    elif rc == 0:
        _finish(folder, job, "done", 0, None)
    else:
        _finish(folder, job, "failed", rc, _error_line(folder / "log.txt", rc))


def _tick(base: Path, children: dict[str, subprocess.Popen]) -> bool:
    """One worker pass: record ended jobs, escalate overdue cancels, start queued jobs up to the limit.
    Returns False when nothing runs or waits (call with the status lock held)."""
    jobs = _load_all(base)
    by_id = {job["id"]: (folder, job) for folder, job in jobs}
    for jid, proc in list(children.items()):
        rc = proc.poll()
        if rc is None:
            continue
        del children[jid]
        if jid not in by_id or by_id[jid][1]["status"] != "running":
            continue
        folder, job = by_id[jid]
        if rc == 0 and not job.get("cancel_deadline") and job.get("phase", 0) + 1 < len(commands(job)):
            job["phase"] = job.get("phase", 0) + 1  # the next phase, under the same job
            started = _start(folder, job)
            if started is not None:
                children[jid] = started
            continue
        _record_end(folder, job, rc)
    busy, queued = 0, []
    for folder, job in jobs:
        if job["status"] == "running":
            if job["id"] not in children and not _alive(job):
                _record_end(folder, job, None)
                continue
            if job.get("cancel_deadline") and time.time() > job["cancel_deadline"]:
                _signal_group(job, signal.SIGKILL)
            busy += 1
        elif job["status"] == "queued":
            queued.append((folder, job))
    for folder, job in queued[: max(0, max_running(base) - busy)]:
        started = _start(folder, job)
        if started is not None:
            children[job["id"]] = started
    return busy > 0 or bool(children) or bool(queued)


def run_worker(root: Path | str | None = None) -> int:
    """The worker loop: run queued jobs in order with the root's concurrency limit; exit when idle
    (at once, with a note on stderr, when another worker holds the root)."""
    base = jobs_root(root)
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".worker.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            print(f"partkd jobs worker: a worker is already running (pid {lock.read().strip()})", file=sys.stderr)
            return 0
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        with _locked(base):
            spawn = base / ".worker.spawn"
            if spawn.exists() and json.loads(spawn.read_text() or "{}").get("pid") == os.getpid():
                spawn.unlink()
        children: dict[str, subprocess.Popen] = {}
        while True:
            with _locked(base):
                try:
                    active = _tick(base, children)
                except PartKDError as e:
                    print(f"partkd jobs worker: {e}", file=sys.stderr, flush=True)
                    active = True
                if not active:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    return 0
            time.sleep(POLL_S)
