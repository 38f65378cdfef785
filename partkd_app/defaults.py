"""The repository folders the app reads (the shipped checkpoints, the recipes) and the built-in data it opens on."""

from __future__ import annotations

from pathlib import Path

from partkd.data_fields import FieldValue, spec_of
from partkd.engine.config import DataSpec
from partkd.io import load_toml

ROOT = Path(__file__).resolve().parent.parent  # the repository: checkpoints/, configs/
CHECKPOINT_DIR = ROOT / "checkpoints"
CONFIGS = ROOT / "configs"
#: The recipe of the shipped checkpoints; its [data] is the app's built-in synthetic data (10 classes x 100 clips:
#: 300 test clips, so one clip is a third of a point).
APP_RECIPE = CONFIGS / "app_default.toml"
APP_DATA: dict[str, FieldValue] = dict(load_toml(APP_RECIPE)["data"])
APP_SPEC: DataSpec = spec_of(APP_DATA, str(APP_RECIPE))
#: The generator's settings of the built-in data (the sidebar adds the class count, seed, level and L layout).
APP_SYNTHETIC: dict[str, FieldValue] = {k: v for k, v in APP_DATA.items() if k not in ("source", "low_layout", "level")}
