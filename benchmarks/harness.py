"""The benchmark scripts' shared plumbing: paths, provenance (command, date, machine, code version), publishing of
JSON + Markdown results, Markdown tables, child processes with their peak memory, and common CLI arguments.

A script run as `python benchmarks/<name>.py` has benchmarks/ on sys.path, so `from harness import ...` needs nothing
more. What several scripts share about the experiments themselves (datasets, the `bench` preset) is in harness_data.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA_ROOT = Path(os.environ.get("PARTKD_DATA", ROOT.parent / "shared" / "data"))


# ------------------------------------------------------------------------------------------------------ machine
def cpuinfo_field(name: str) -> str | None:
    """The value of the first `name` line of /proc/cpuinfo, or None where there is no such file or line."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(name)), None)


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (platform string elsewhere)."""
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_features() -> str:
    """The vector / matrix extensions that decide fp32 and bf16 speed (AVX2, AVX-512, AVX512-BF16, AMX)."""
    flags = cpuinfo_field("flags")
    if flags is None:
        return "unknown"
    names = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX-BF16"}
    present = set(flags.split())
    return ", ".join(label for flag, label in names.items() if flag in present) or "none of AVX2/AVX-512/AMX"


def machine() -> str:
    """The CUDA device, or the CPU model, its cores and torch's current thread count."""
    import torch

    if torch.cuda.is_available():
        return f"CUDA {torch.cuda.get_device_name(0)}"
    return f"CPU {cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"


# --------------------------------------------------------------------------------------------------- provenance
def command_line(argv: Sequence[str] | None = None) -> str:
    """`python <script> <args>`, shell-quoted: this process's script (relative to the repository where it is in it)
    with `argv` (default: its own arguments)."""
    script = Path(sys.argv[0])
    try:
        shown = script.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        shown = sys.argv[0]
    return "python " + shlex.join([shown, *(sys.argv[1:] if argv is None else argv)])


def utc_now() -> str:
    """The date and minute in UTC, as every result records it."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def provenance_line(command: str, date: str, code_version: str, machine: str) -> str:
    """The one Markdown line naming where a result comes from."""
    return f"Command: `{command}`; date {date}; code {code_version}; machine: {machine}."


@dataclass(frozen=True)
class Provenance:
    """Where a result comes from: command, date (UTC), code version and machine."""

    command: str
    date: str
    code_version: str
    machine: str

    def record(self) -> dict[str, str]:
        """The fields under the keys most results use (command, device, date, code_version)."""
        return {"command": self.command, "device": self.machine, "date": self.date, "code_version": self.code_version}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Provenance:
        """The provenance a result stored with record() (its command, device, date and code_version keys)."""
        return cls(record["command"], record["date"], record["code_version"], record["device"])

    def line(self) -> str:
        """The provenance line for a Markdown report."""
        return provenance_line(self.command, self.date, self.code_version, self.machine)


def provenance(argv: Sequence[str] | None = None) -> Provenance:
    """This run's provenance, `argv` as in command_line. Call it after setting torch's threads, which it records."""
    from partkd.checkpoints import code_version

    return Provenance(command_line(argv), utc_now(), code_version(), machine())


# ------------------------------------------------------------------------------------------------------ publish
def md_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown pipe table: the header, a `---` rule and one line per row; cells by str(), '|' in them escaped.
    Every row has the header's number of cells."""

    def line(cells: Sequence[object]) -> str:
        if len(cells) != len(header):
            raise ValueError(f"a row of {len(cells)} cells under a header of {len(header)}: {cells!r}")
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)])


def md_head(title: str, prov: Provenance) -> list[str]:
    """The first lines of a report: its title and its provenance line, each followed by a blank line."""
    return [f"# {title}", "", prov.line(), ""]


def md_notes(notes: Sequence[str]) -> list[str]:
    """A report's free-text notes (--note) as a bullet list under 'Notes:', or nothing."""
    return ["Notes:", "", *(f"- {n}" for n in notes), ""] if notes else []


def output_path(stem: Path | str, suffix: str) -> Path:
    """`stem` + `suffix` (a stem's own dots are kept: penn_action.tau1 -> penn_action.tau1.json)."""
    stem = Path(stem)
    return stem.with_name(stem.name + suffix)


def publish(stem: Path | str, record: Mapping[str, Any] | None, markdown: str) -> None:
    """Write <stem>.json (unless `record` is None) and <stem>.md atomically: a reader sees an old or a whole file."""
    from partkd.io import atomic_write_json, atomic_write_text

    if record is not None:
        atomic_write_json(output_path(stem, ".json"), record)
    atomic_write_text(output_path(stem, ".md"), markdown)


# ------------------------------------------------------------------------------------------------------ children
@dataclass(frozen=True)
class ChildRun:
    """A finished child process: exit status, wall seconds, peak RSS, its output, and whether `stop` ended it."""

    returncode: int
    seconds: float
    peak_rss_bytes: int
    stdout: str
    stderr: str
    stopped: bool = False

    @property
    def peak_rss_mib(self) -> float:
        """Peak RSS in MiB."""
        return self.peak_rss_bytes / 2**20

    def error_line(self) -> str:
        """The last line of stderr, or the exit status when there is none."""
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit {self.returncode}"

    def last_json(self) -> Any:
        """The last stdout line, parsed as JSON (how the benchmark children report)."""
        return json.loads(self.stdout.strip().splitlines()[-1])


def _vm_hwm_bytes(pid: int) -> int:
    """The process's peak resident set so far (VmHWM in /proc), 0 where it cannot be read."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(x.split()[1]) * 1024 for x in lines if x.startswith("VmHWM:")), 0)


def _kill_group(pid: int) -> None:
    """SIGKILL the process group `pid` leads: the child and its own children (DataLoader workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def run_child(
    cmd: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stop: Callable[[], bool] | None = None,
    poll_s: float = 0.2,
    check: bool = False,
) -> ChildRun:
    """Run `cmd` (in os.environ updated by `env`, in its own session) to its end, or until `stop()` is true: then its
    process group is killed and `seconds` is the time to that moment. Output goes through files (nothing blocks on a
    pipe); `check` raises RuntimeError with the last stderr line when the child fails.

    Peak RSS is the child's own: the kernel's exact high-water mark (wait4's ru_maxrss) where it exceeds this
    process's own peak, since below that it may be the mark the child inherited when it was forked; else the child's
    VmHWM polled from /proc (every few ms at first, then every `poll_s`)."""
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            list(cmd), env={**os.environ, **(env or {})}, cwd=cwd, stdout=out, stderr=err, start_new_session=True
        )
        polled, stopped_at, delay = 0, None, 0.005
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                polled = max(polled, _vm_hwm_bytes(proc.pid))
                if stopped_at is None and stop is not None and stop():
                    stopped_at = time.monotonic()
                    _kill_group(proc.pid)
                time.sleep(delay)
                delay = min(2 * delay, poll_s)
        except BaseException:
            _kill_group(proc.pid)
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = (stopped_at or time.monotonic()) - start
        waited = usage.ru_maxrss * 1024
        own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        out.seek(0)
        err.seek(0)
        run = ChildRun(
            returncode=proc.returncode,
            seconds=seconds,
            peak_rss_bytes=waited if waited > own_peak else polled,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            stopped=stopped_at is not None,
        )
    if check and run.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} failed ({run.returncode}): {run.error_line()}")
    return run


# ---------------------------------------------------------------------------------------------------------- CLI
def add_threads_arg(
    parser: argparse.ArgumentParser, default: int | None = None, help: str = "torch threads (default: torch's choice)"
) -> None:
    """--threads N."""
    parser.add_argument("--threads", type=int, default=default, help=help)


def add_save_arg(
    parser: argparse.ArgumentParser, default: Path | None = None, help: str = "write <SAVE>.json and <SAVE>.md"
) -> None:
    """--save STEM: where the results go."""
    parser.add_argument("--save", type=Path, default=default, help=help)


def add_seeds_arg(parser: argparse.ArgumentParser, default: Sequence[int], help: str | None = None) -> None:
    """--seeds S [S ...]: the training seeds."""
    parser.add_argument("--seeds", type=int, nargs="+", default=list(default), help=help)


def set_threads(threads: int | None) -> None:
    """torch.set_num_threads(threads) when `threads` is set (0 or None: torch's choice)."""
    if threads:
        import torch

        torch.set_num_threads(threads)
