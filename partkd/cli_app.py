"""`partkd app`: open the Streamlit app, optionally on the user's own data and checkpoints."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from partkd.app_options import add_app_arguments, app_argv, parse_app_args
from partkd.errors import ConfigError

#: The app's entry point: the repository's app.py (the package is installed from the repository, `pip install -e .`).
APP_PY = Path(__file__).resolve().parent.parent / "app.py"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `app` sub-command."""

    p = sub.add_parser(
        "app",
        help="open the app (streamlit run app.py), optionally on your own data",
        description="Start the Streamlit app. With --data it opens on your files (low quality simulated from them "
        "unless --low is given) and lists --checkpoints first; the same keys can come from an app TOML (--config). "
        "Equivalent to `streamlit run app.py -- FLAGS`.",
    )
    add_app_arguments(p)
    p.add_argument("--port", type=int, default=None, help="server port (default streamlit's, 8501)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.add_argument("--dry-run", action="store_true", help="print the streamlit command and exit")
    p.set_defaults(func=_cmd_app)


def streamlit_command(args: argparse.Namespace) -> list[str]:
    """The `python -m streamlit run app.py … -- FLAGS` command for parsed `partkd app` arguments (flags validated)."""

    flags = ["--config", args.config] if args.config else []
    for key in ("data", "low", "layout", "low_layout", "checkpoints", "data_root"):
        value = getattr(args, key)
        if value is not None:
            flags += ["--" + key.replace("_", "-"), value]
    settings = parse_app_args(flags)
    if not APP_PY.is_file():
        raise ConfigError(f"{APP_PY}: the app's entry point is missing (install partkd from its repository)")
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_PY)]
    if args.port is not None:
        cmd += ["--server.port", str(args.port)]
    if args.headless:
        cmd += ["--server.headless", "true"]
    return [*cmd, "--", *app_argv(settings)]


def _cmd_app(args: argparse.Namespace) -> int:
    cmd = streamlit_command(args)
    if args.dry_run:
        print(" ".join(cmd))
        return 0
    return subprocess.call(cmd)
