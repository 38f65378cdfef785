"""CLI sub-commands for background jobs: `partkd jobs list|show|submit|cancel|resume|log|limit|worker`."""

from __future__ import annotations

import argparse
import json
import time

from partkd.engine import jobs


def _when(ts: float | None) -> str:
    """A timestamp as local 'YYYY-mm-dd HH:MM:SS', '-' when unset."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def _list(args: argparse.Namespace) -> int:
    """Print one line per job (or JSON)."""
    rows = [j for j in jobs.list_jobs(args.root) if not args.status or j["status"] == args.status]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for j in rows:
        print(f"{j['id']}  {j['status']:<9}  {_when(j['created'])}  {j['name']}")
    return 0


def _show(args: argparse.Namespace) -> int:
    """Print a job's record, progress and output checkpoints."""
    job = jobs.get_job(args.id, args.root)
    info = {
        **job,
        "progress": jobs.read_progress(args.id, args.root),
        "checkpoints": [str(p) for p in jobs.checkpoints(args.id, args.root)],
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key in ("id", "name", "status", "pid", "returncode", "error", "out_dir"):
        print(f"{key:<11} {job.get(key)}")
    for key in ("created", "started", "finished"):
        print(f"{key:<11} {_when(job.get(key))}")
    for argv in jobs.commands(job):
        print(f"{'command':<11} partkd {' '.join(argv)}")
    if info["progress"]:
        print(f"{'progress':<11} {json.dumps(info['progress'])}")
    for path in info["checkpoints"]:
        print(f"{'checkpoint':<11} {path}")
    return 0


def _submit(args: argparse.Namespace) -> int:
    """Queue a command line and print the new job's id."""
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    print(jobs.submit(argv, args.root, name=args.name))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    """Cancel a job and print its status."""
    print(jobs.cancel(args.id, args.root, grace_s=args.grace, wait=args.wait)["status"])
    return 0


def _resume(args: argparse.Namespace) -> int:
    """Re-queue a failed or cancelled job with --resume."""
    print(jobs.resume(args.id, args.root)["status"])
    return 0


def _log(args: argparse.Namespace) -> int:
    """Print the end of a job's log."""
    print(jobs.read_log(args.id, args.root, tail=args.tail))
    return 0


def _limit(args: argparse.Namespace) -> int:
    """Set (when given) and print how many jobs run at once."""
    if args.n is not None:
        jobs.set_max_running(args.n, args.root)
    print(jobs.max_running(args.root))
    return 0


def _worker(args: argparse.Namespace) -> int:
    """Run the queue worker in the foreground until the queue is empty."""
    return jobs.run_worker(args.root)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `jobs` sub-command group."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", help="jobs folder (default $PARTKD_JOBS or ./jobs)")
    group = sub.add_parser(
        "jobs",
        help="run partkd commands as background jobs",
        description="Background jobs: each runs one partkd command line in its own "
        "process; a worker starts queued jobs in order.",
    )
    cmds = group.add_subparsers(dest="jobs_command", required=True)

    p = cmds.add_parser("list", parents=[common], help="list jobs, oldest first")
    p.add_argument("--status", choices=jobs.STATUSES, help="only jobs with this status")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_list)

    p = cmds.add_parser("show", parents=[common], help="show one job")
    p.add_argument("id")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_show)

    p = cmds.add_parser(
        "submit",
        parents=[common],
        help="queue a partkd command line",
        description="Queue `partkd ARGV...`; '--out <job>/run' is added when ARGV has no --out. "
        "Example: partkd jobs submit -- train-teacher --data synthetic --preset smoke",
    )
    p.add_argument("--name", help="a label for the job")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- ARGV", help="the partkd command line")
    p.set_defaults(func=_submit)

    p = cmds.add_parser(
        "cancel",
        parents=[common],
        help="cancel a queued or running job",
        description="Queued jobs are cancelled at once; running ones get SIGTERM "
        "(graceful stop) and SIGKILL after --grace seconds.",
    )
    p.add_argument("id")
    p.add_argument("--grace", type=float, default=jobs.DEFAULT_GRACE_S, help="seconds before SIGKILL")
    p.add_argument("--wait", action="store_true", help="return only once the job has stopped")
    p.set_defaults(func=_cancel)

    p = cmds.add_parser("resume", parents=[common], help="re-queue a failed or cancelled job with --resume")
    p.add_argument("id")
    p.set_defaults(func=_resume)

    p = cmds.add_parser("log", parents=[common], help="print the end of a job's log")
    p.add_argument("id")
    p.add_argument("--tail", type=int, default=200, help="number of lines (default 200)")
    p.set_defaults(func=_log)

    p = cmds.add_parser("limit", parents=[common], help="show or set how many jobs run at once")
    p.add_argument("n", type=int, nargs="?", help="new limit (at least 1)")
    p.set_defaults(func=_limit)

    p = cmds.add_parser("worker", parents=[common], help="run the queue (started automatically by submit)")
    p.set_defaults(func=_worker)
