"""One module per on-disk skeleton format; each exposes `FORMAT`, a `FormatLoader` (see common.py)."""
