"""CLI sub-commands for datasets: `partkd data synth` and `partkd data inspect`."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `data` sub-command group."""
