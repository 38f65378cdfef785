"""partkd: part-level knowledge distillation for action recognition from low-quality skeletons."""

from partkd.errors import PartKDError
from partkd.lazy import lazy_exports

__version__ = "0.1.0"
__all__ = ["PartKDError", "__version__", "predict"]
__getattr__ = lazy_exports(__name__, {"predict": "partkd.streaming"})
