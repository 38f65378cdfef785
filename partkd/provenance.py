"""Where a figure or table comes from, as the one caption line every app page writes under it: the data, each
checkpoint (name, weights sha256, the code version it was trained with), the code version drawing it and the
occlusion protocol; never a machine path and never a timing."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from partkd.catalogue import checkpoint_name
from partkd.checkpoints import code_version, kd_method, read_meta
from partkd.engine.config import DEFAULT_OCCLUSION_MODE, DataSpec
from partkd.errors import PartKDError

#: Hex characters of a checkpoint's weights sha256 a caption shows.
SHA_CHARS = 12
#: What every caption carries (the browser test looks for them): the weights' hash and the code version.
SHA_MARK = "sha256"
CODE_MARK = "code: partkd"
#: What a caption says when no checkpoint made the figure (the raw data).
NO_CHECKPOINT = "no checkpoint (the data alone)"


class Checkpointed(Protocol):
    """A loaded checkpoint (checkpoints.Loaded): its path and metadata."""

    @property
    def path(self) -> Path: ...

    @property
    def meta(self) -> Mapping[str, object]: ...


#: A checkpoint as a caller has it: a path (its metadata is read), a loaded checkpoint, or (path, metadata).
CheckpointRef = str | Path | Checkpointed | tuple[str | Path, Mapping[str, object]]


@dataclass(frozen=True)
class OcclusionProtocol:
    """The occlusion a figure's low-quality input went through: the OP (or the OPs of a grid), the mode, the seed
    of the occluded set and the parts of part mode; `per_clip` for an illustration that seeds each clip from it."""

    op: float | tuple[float, ...]
    mode: str = DEFAULT_OCCLUSION_MODE
    seed: int = 0
    parts: tuple[str, ...] = ()
    per_clip: bool = False

    def describe(self) -> str:
        """One phrase: OP(s), mode, parts and seed."""
        ops = self.op if isinstance(self.op, tuple) else (self.op,)
        shown = ", ".join(f"{float(o):g}" for o in ops)
        parts = f" ({', '.join(p.replace('_', ' ') for p in self.parts)})" if self.parts else ""
        seed = f"per-clip seeds from {self.seed}" if self.per_clip else f"seed {self.seed} for the whole set"
        return f"occlusion: OP {shown}, {self.mode} mode{parts}, {seed}"


@functools.cache
def running_code() -> str:
    """The code version of this process (checkpoints.code_version, read once)."""
    return code_version()


def _name(value: str) -> str:
    """A file or folder path as its name (no machine path in a caption); other values unchanged."""
    return Path(value).name if os.sep in value or "/" in value else value


def data_name(spec: DataSpec) -> str:
    """A short name of the data: 'synthetic', or the dataset's file or folder name."""
    return "synthetic" if spec.is_synthetic else _name(spec.source)


def data_label(spec: DataSpec) -> str:
    """DataSpec.describe() with every path shortened to its file or folder name."""
    text = spec.describe()
    for value in (spec.source, spec.low, spec.low_layout, spec.high_layout):
        if isinstance(value, str) and value != _name(value):
            text = text.replace(value, _name(value))
    return text


def _path_and_meta(ref: CheckpointRef) -> tuple[str, Mapping[str, object] | None]:
    """A checkpoint's path and metadata (None when unreadable)."""
    if isinstance(ref, tuple):
        return str(ref[0]), ref[1]
    if isinstance(ref, str | Path):
        try:
            return str(ref), read_meta(ref)
        except PartKDError:
            return str(ref), None
    return str(ref.path), ref.meta


def role_label(meta: Mapping[str, object]) -> str:
    """'teacher', 'student without KD' or 'student with KD (method)' from a checkpoint's metadata."""
    if meta.get("role") == "teacher":
        return "teacher"
    method = kd_method(dict(meta))
    return "student without KD" if method == "none" else f"student with KD ({method})"


def _trained_with(meta: Mapping[str, object] | None) -> str | None:
    """The code version a checkpoint was trained with (None when unknown)."""
    version = (meta or {}).get("code_version")
    return str(version) if version else None


def _label(path: str, meta: Mapping[str, object] | None, code: bool) -> str:
    """checkpoint_label of a path and its metadata."""
    name = checkpoint_name(path)
    if meta is None:
        return f"{name} ({SHA_MARK} unknown: metadata unreadable)"
    sha = str(meta.get("weights_sha256") or "")[:SHA_CHARS] or "not recorded"
    trained = _trained_with(meta) if code else None
    return f"{name} ({role_label(meta)}, {SHA_MARK} {sha}" + (f", trained with partkd {trained})" if trained else ")")


def checkpoint_label(ref: CheckpointRef, code: bool = True) -> str:
    """One checkpoint: its name, role, the first SHA_CHARS of its weights sha256 and (with `code`) the code version
    it was trained with."""
    return _label(*_path_and_meta(ref), code)


def caption(
    checkpoints: Sequence[CheckpointRef], spec: DataSpec | str, occlusion: OcclusionProtocol | None = None
) -> str:
    """The provenance line of a figure or table: data (a DataSpec, or a label of data that has none, e.g. a video),
    checkpoints (the code version they were trained with, once when they share it), the code version of this app
    and, where occlusion applies, its protocol."""
    refs = [_path_and_meta(c) for c in checkpoints]
    versions = {_trained_with(meta) for _, meta in refs}
    shared = versions.pop() if len(versions) == 1 else None
    models = "; ".join(_label(path, meta, shared is None) for path, meta in refs) or NO_CHECKPOINT
    head = f"checkpoints trained with partkd {shared}" if shared else "checkpoints"
    data = data_label(spec) if isinstance(spec, DataSpec) else spec
    parts = [f"data: {data}", f"{head}: {models}", f"{CODE_MARK} {running_code()} (this app)"]
    if occlusion is not None:
        parts.append(occlusion.describe())
    return " · ".join(parts)
