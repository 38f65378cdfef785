"""partkd: part-level knowledge distillation for action recognition from low-quality skeletons."""

from partkd.errors import PartKDError

__version__ = "0.1.0"
__all__ = ["PartKDError", "__version__"]
