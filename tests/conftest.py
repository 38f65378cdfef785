"""Shared pytest fixtures."""
from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def smoke_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's one trained teacher, with its part matrix: 8 smoke epochs on 4 synthetic classes x 12 clips
    (ntu25 3D, 24 frames). Tests may read and copy it, never modify it (a test that writes into a teacher copies
    it first)."""
    from partkd.engine.config import DataSpec, train_preset
    from partkd.engine.teacher import compute_part_matrix, train_teacher

    spec = DataSpec(num_classes=4, clips_per_class=12, synth_frames=24)
    path = train_teacher(train_preset("smoke", epochs=8, batch_size=8), spec, tmp_path_factory.mktemp("teacher"))
    compute_part_matrix(path, spec)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder `../shared/data` next to the repository; skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (they are kept outside the repository)")
    return SHARED_DATA
