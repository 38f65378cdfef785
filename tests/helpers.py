"""Small helpers shared by the tests (importable because pytest puts tests/ on sys.path)."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
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


def write_h36m(root: "Path", frames: int = 60, subjects: tuple[int, ...] = (1, 9), missing_mocap: tuple = (),
               seed: int = 0) -> "Path":
    """A tiny Human3.6M folder in the 3d-pose-baseline layout: per subject one 'Walking 1' and one 'Eating'
    recording (motion capture and detections at 2 cameras) and cameras.h5; `missing_mocap` names (subject, stem)
    recordings whose motion capture is left out."""
    from pathlib import Path

    import h5py
    import numpy as np

    rng = np.random.default_rng(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    cams = ("54138969", "55011271")
    with h5py.File(root / "cameras.h5", "w") as f:
        for s in subjects:
            for i, name in enumerate(cams, start=1):
                g = f.create_group(f"subject{s}/camera{i}")
                g["R"] = np.eye(3)
                g["T"] = np.array([[0.0], [-4000.0 - 500 * i], [1000.0]])
                g["f"], g["c"] = np.array([[1150.0], [1150.0]]), np.array([[500.0], [500.0]])
                g["k"], g["p"] = np.zeros((3, 1)), np.zeros((2, 1))
                g["Name"] = np.array([[ord(ch)] for ch in name], dtype=np.float64)
    for s in subjects:
        (root / f"S{s}" / "MyPoses" / "3D_positions").mkdir(parents=True, exist_ok=True)
        (root / f"S{s}" / "StackedHourglass").mkdir(parents=True, exist_ok=True)
        for stem in ("Walking 1", "Eating"):
            pose = rng.normal(0.0, 200.0, (32, 3)) + np.array([0.0, 0.0, 900.0])
            walk = pose[None] + np.cumsum(rng.normal(0.0, 18.5, (frames, 1, 3)), axis=0)  # ~29.6 mm per frame: 10 Hz
            if (s, stem) not in missing_mocap:
                with h5py.File(root / f"S{s}/MyPoses/3D_positions/{stem}.h5", "w") as f:
                    f["3D_positions"] = walk.reshape(frames, 96).T.astype(np.float32)
            for name in cams:
                with h5py.File(root / f"S{s}/StackedHourglass/{stem.replace(' ', '_')}.{name}.h5", "w") as f:
                    f["poses"] = rng.uniform(100.0, 900.0, (frames, 16, 2)).astype(np.float32)
    return root


def app_page(page: str = "home", session: dict | None = None, timeout: float = 120) -> Any:
    """AppTest of the app as served: the entrypoint (navigation, the sidebar drawn once), then `page`
    (partkd_app/pages/<page>.py); `session` presets widget values, e.g. the sidebar's w_<key>, before the first run."""
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "app.py"), default_timeout=timeout)
    for key, value in (session or {}).items():
        at.session_state[key] = value
    at.run()
    if page != "home":
        at.switch_page(f"partkd_app/pages/{page}.py").run()
    return at


@pytest.fixture(autouse=True)
def jobs_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """For a module that imports it: every test gets its own jobs root, so no real job folder is listed or written,
    and runs from the repository (where the app finds checkpoints/ and configs/)."""
    root = tmp_path / "jobs"
    monkeypatch.setenv("PARTKD_JOBS", str(root))
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    return root


def run_page(page: str = "home", session: dict | None = None, timeout: float = 120) -> Any:
    """The app at one page (app_page), failing on any uncaught exception."""
    at = app_page(page, session, timeout)
    assert not at.exception, [e.value for e in at.exception]
    return at
