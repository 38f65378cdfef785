"""Load any supported skeleton format into a SkeletonDataset, with format detection and an on-disk cache."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from pathlib import Path

from partkd import __version__
from partkd.data.axes import to_partkd_axes
from partkd.data.dataset import SkeletonDataset
from partkd.data.formats import FORMATS, h36m, synthetic
from partkd.data.formats.common import list_bad
from partkd.errors import ConfigError, DataError, FlagHintError, PartKDError, where
from partkd.layouts import Layout, get_layout

#: Bump when a loader's output changes, so older cache entries are not reused.
CACHE_VERSION = 2
SUFFIX_FORMATS = {".mat": "penn_action", ".skeleton": "ntu", ".pkl": "pyskl", ".pickle": "pyskl", ".npz": "npz"}


def cache_dir() -> Path:
    """The dataset cache folder: $PARTKD_CACHE, else ~/.cache/partkd."""
    return Path(os.environ.get("PARTKD_CACHE") or Path.home() / ".cache" / "partkd")


def json_format(path: Path) -> str:
    """'nw_ucla' or 'kinetics' from the keys of one JSON clip file."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError) as e:
        raise DataError(where(path, f"cannot detect the format: not readable JSON ({e})")) from None
    if isinstance(doc, dict) and "skeletons" in doc:
        return "nw_ucla"
    if isinstance(doc, dict) and "data" in doc:
        return "kinetics"
    raise DataError(
        where(
            path,
            "cannot detect the format: JSON has neither 'skeletons' (NW-UCLA) "
            "nor 'data' (Kinetics-skeleton); pass --format",
        )
    )


def detect_format(path: str | Path) -> str:
    """The format name of a file or folder, from its suffixes, sub-folders and (for JSON) one file's keys."""
    if synthetic.is_synthetic(path):
        return "synthetic"
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(where(p, "does not exist"))
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix == ".json":
            return json_format(p)
        if suffix in SUFFIX_FORMATS:
            return SUFFIX_FORMATS[suffix]
        raise FlagHintError(
            p, f"cannot detect the format of a '{suffix}' file; pass {{flag}} ({', '.join(FORMATS)})", "--format"
        )
    if (p / "labels").is_dir():
        return "penn_action"
    if (p / "all_sqe").is_dir():
        return "nw_ucla"
    if h36m.is_h36m(p):
        return "h36m"
    for pattern in ("*", "*/*"):
        found = [f for f in p.glob(pattern) if f.is_file() and not f.name.endswith("_label.json")]
        counts = Counter(f.suffix.lower() for f in found if f.suffix.lower() in (".json", ".mat", ".skeleton"))
        if counts:
            suffix = counts.most_common(1)[0][0]
            return (
                json_format(next(f for f in found if f.suffix.lower() == suffix))
                if suffix == ".json"
                else SUFFIX_FORMATS[suffix]
            )
    raise FlagHintError(p, f"cannot detect the format of this folder; pass {{flag}} ({', '.join(FORMATS)})", "--format")


def cache_key(name: str, source: str, files: list[Path], layout: Layout | None, skip_bad: bool, options: dict) -> str:
    """Hash of everything a parse depends on, including every input file's size and modification time."""
    stats = [(str(f), os.stat(f)) for f in files]
    listing = [(f, st.st_size, st.st_mtime_ns) for f, st in stats]
    blob = json.dumps(
        {
            "cache": CACHE_VERSION,
            "partkd": __version__,
            "format": name,
            "source": source,
            "options": options,
            "layout": layout.to_dict() if layout else None,
            "skip_bad": skip_bad,
            "files": listing,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def read_cache(path: Path, check_values: bool = True) -> SkeletonDataset | None:
    """The cached dataset at `path`, or None when absent or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        return SkeletonDataset.load_npz(path, check_values)
    except DataError:
        return None


def write_cache(ds: SkeletonDataset, path: Path, what: str) -> SkeletonDataset:
    """Store `ds` in the cache at `path` and return it read back (its clips on disk, so the parsed copy in memory
    can go); a failure only warns and returns `ds` (the cache is an optimisation)."""
    try:
        ds.save_npz(path)
    except PartKDError as e:
        warnings.warn(f"{what} cache not written: {e}", stacklevel=3)
        return ds
    return read_cache(path, check_values=False) or ds  # its values were just written from valid clips


def load_dataset(
    path: str | Path,
    format: str | None = None,
    layout: str | Path | Layout | None = None,
    skip_bad: bool = False,
    cache: bool = True,
    **options: object,
) -> SkeletonDataset:
    """Read a dataset in any registered format (detected when not given); parsed results are cached."""
    name = format or detect_format(path)
    if name not in FORMATS:
        raise DataError(where(path, f"unknown format '{name}': use one of {', '.join(FORMATS)}"))
    spec = FORMATS.get(name)
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        allowed = ", ".join(spec.options) or "none"
        raise ConfigError(f"format '{name}' has no option {', '.join(unknown)} (options: {allowed})")
    opts = {**spec.options, **options}
    try:
        json.dumps(opts)
    except TypeError as e:
        raise ConfigError(f"options of format '{name}' must be plain JSON values ({e})") from None
    lay = get_layout(layout) if layout is not None else None
    p = Path(str(path)) if name == "synthetic" else Path(path).expanduser().resolve()
    files = spec.files(p)
    entry = None
    if cache and spec.cacheable:
        entry = cache_dir() / f"{name}-{cache_key(name, str(p), files, lay, skip_bad, opts)[:32]}.npz"
        ds = read_cache(entry)
        if ds is not None:
            if ds.meta.get("skipped"):
                warnings.warn(
                    where(p, f"skipped {len(ds.meta['skipped'])} bad items (cached): {list_bad(ds.meta['skipped'])}"),
                    stacklevel=2,
                )
            return ds
    ds = to_partkd_axes(spec.parse(p, files, lay, skip_bad, **opts))
    ds.meta = {**ds.meta, "source": str(p), "format": name, "options": opts}
    if entry is not None:
        return write_cache(ds, entry, "dataset")
    return ds
