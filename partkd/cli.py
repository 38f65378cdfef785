"""The `partkd` command line: one parser, sub-commands registered by the modules that own them."""

from __future__ import annotations

import argparse
import os
import sys

from partkd.errors import ConfigError, PartKDError


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every sub-command."""
    from partkd import cli_app, cli_data, cli_deploy, cli_jobs, cli_report, cli_train, cli_video

    parser = argparse.ArgumentParser(prog="partkd", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cli_data.register(sub)
    cli_train.register(sub)
    cli_report.register(sub)
    cli_deploy.register(sub)
    cli_jobs.register(sub)
    cli_video.register(sub)
    cli_app.register(sub)
    return parser


def set_threads(n: int | None) -> None:
    """--threads N: torch's CPU thread count for this process (left alone when None)."""
    if n is None:
        return
    if n < 1:
        raise ConfigError(f"--threads must be at least 1, got {n}")
    import torch

    torch.set_num_threads(n)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; project errors become one line on stderr and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        set_threads(getattr(args, "threads", None))
        return int(args.func(args) or 0)
    except PartKDError as e:
        print(f"partkd: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("partkd: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: stop quietly instead of printing a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        if "torch.distributed" in sys.modules:  # only a training command under torchrun joins a process group
            from partkd.engine.distributed import shutdown

            shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
