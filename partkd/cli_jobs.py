"""CLI sub-commands for background jobs (filled in by the job runner)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `jobs` sub-command group."""
