"""Training engine: configs, paired data, teacher/student training, evaluation, reproduce recipes, jobs.

Only the (light) configuration types are imported here; import `partkd.engine.teacher`, `.student`, `.evaluate`,
`.reproduce` or `.jobs` directly for the rest, so that `partkd jobs ...` does not load torch.
"""

from partkd.engine.config import DataSpec, StudentConfig, TrainConfig, train_preset

__all__ = ["DataSpec", "StudentConfig", "TrainConfig", "train_preset"]
