"""Small helpers shared by the tests (importable because pytest puts tests/ on sys.path)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def wait_for(pred: Callable[[], Any], timeout: float = 60.0, what: str = "condition", poll: float = 0.05) -> Any:
    """Poll `pred` until it returns a truthy value (returned); fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(poll)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
