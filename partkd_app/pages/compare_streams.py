"""The Compare page's table of a multi-stream model's streams on one clip."""

from __future__ import annotations

import numpy as np
import pandas as pd

from partkd.data.modalities import MODALITY_NAMES


def stream_table(
    streams: dict[str, np.ndarray], fused: np.ndarray, row: int, class_names: list[str], truth: int
) -> pd.DataFrame:
    """One row per stream of a multi-stream model (its top-1 class, probability, ✓/✗) on one clip, then the fusion
    (`fused`: that clip's fused probabilities)."""
    rows = [(f"{name} ({MODALITY_NAMES[name]})", p[row]) for name, p in streams.items()] + [("fused", fused)]
    return pd.DataFrame(
        [
            {
                "stream": name,
                "top-1": class_names[int(p.argmax())],
                "probability": round(float(p.max()), 3),
                "right": "✓" if int(p.argmax()) == truth else "✗",
            }
            for name, p in rows
        ]
    )
