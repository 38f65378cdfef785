"""The checkpoints the pickers offer: listed from the user's folder (--checkpoints), the shipped ones and the jobs,
rescanned every few seconds."""

from __future__ import annotations

from typing import cast

import streamlit as st

from partkd.catalogue import CheckpointFolders, CheckpointRow, unique_rows
from partkd.checkpoints import list_checkpoints
from partkd.engine.jobs import jobs_root
from partkd_app.defaults import CHECKPOINT_DIR
from partkd_app.launch import launch_settings


def folders() -> CheckpointFolders:
    """Where the pickers look: the folder the app was opened with (--checkpoints), the shipped ones, the jobs."""
    return CheckpointFolders(launch_settings().checkpoints, CHECKPOINT_DIR, jobs_root())


@st.cache_data(ttl=3, show_spinner=False)
def _checkpoint_rows(scanned: tuple[str, ...]) -> list[CheckpointRow]:
    return cast(list[CheckpointRow], list_checkpoints(*scanned))


def available_checkpoints() -> list[CheckpointRow]:
    """The checkpoints of folders(), each once (rescanned every few seconds; `refresh_checkpoints` forces it)."""
    return unique_rows(_checkpoint_rows(folders().scanned()))


def refresh_checkpoints() -> None:
    """Forget the checkpoint listing (a job just finished): the next sidebar lists its checkpoints."""
    _checkpoint_rows.clear()
