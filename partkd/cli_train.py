"""CLI sub-commands of the training engine (filled in by the engine)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the engine's sub-commands."""
