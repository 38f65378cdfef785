"""Checkpoints: weights in safetensors + metadata in JSON, written atomically; no pickle is ever loaded."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetensors import SafetensorError

from partkd import __version__
from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE
from partkd.errors import CheckpointError, ConfigError, PartKDError, where
from partkd.io import atomic_write_bytes, atomic_write_json
from partkd.layouts import Layout, layout_from_dict
from partkd.models import ModelConfig, build_model

if TYPE_CHECKING:  # torch loads only where weights are touched, so metadata reads stay light
    import torch
    from torch import nn

WEIGHTS_SUFFIX = ".safetensors"
META_SUFFIX = ".json"
RESUME_PREFIX = "resume."
_MODEL_KEYS = ("arch", "num_classes")


@dataclass
class Loaded:
    """A rebuilt model (eval mode, on its device) with its checkpoint metadata and path."""

    model: nn.Module
    meta: dict
    path: Path

    @property
    def layout(self) -> Layout:
        return layout_from_dict(self.meta["layout"], self.path)

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def role(self) -> str:
        return str(self.meta.get("role", ""))

    @property
    def occlusion(self) -> str:
        """The occlusion reading a student trained under; the default reading for a teacher or a file without one."""
        return str((self.meta.get("degradation") or {}).get("mode") or DEFAULT_OCCLUSION_MODE)


#: Version of the metadata layout this code writes; files without the key are version 0 (before it was recorded,
#: same keys) and load unchanged. A file from a newer partkd is refused with one line rather than misread.
#: Version 2: synthetic data records `synth_motion`; older synthetic checkpoints read as the "coupled" set.
SCHEMA_VERSION = 2


def code_version() -> str:
    """Package version plus `git rev-parse --short HEAD` of the source tree when it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        sha = out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def command_line() -> str:
    """The command line of this process, shell-quoted (stored in checkpoint metadata)."""
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else ""


def model_meta(config: Any, num_classes: int) -> dict[str, Any]:
    """The `model` metadata entry: the ModelConfig fields (arch included) plus num_classes (enough to rebuild)."""
    return {**config.to_dict(), "num_classes": int(num_classes)}


def kd_method(meta: dict) -> str:
    """The KD method a checkpoint's metadata records ('none' for a student without KD and for a teacher)."""
    kd = meta.get("kd") or {}
    return str(kd.get("method", kd.get("kd", "none")) if isinstance(kd, dict) else kd)


def stem_of(path: str | Path) -> Path:
    """Checkpoint stem: 'x.safetensors', 'x.json', 'x.pt' or 'x' -> 'x'; a run folder -> '<folder>/model'."""
    p = Path(path)
    if p.is_dir():
        return p / "model"
    if p.suffix in (WEIGHTS_SUFFIX, META_SUFFIX, ".pt", ".pth"):
        return p.with_suffix("")
    return p


def _backup(weights: Path) -> Path:
    """The hidden copy of the previous weights kept while `save_checkpoint` replaces a checkpoint."""
    return weights.with_name(f".{weights.name}.prev")


def _described_by_backup(weights: Path, meta_path: Path) -> bool:
    """True when an earlier save stopped between its two renames: the JSON describes the backup, not the weights."""
    try:
        expected = json.loads(meta_path.read_text())["weights_sha256"]
        return (
            hashlib.sha256(_backup(weights).read_bytes()).hexdigest()
            == expected
            != hashlib.sha256(weights.read_bytes()).hexdigest()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _tensors(model: nn.Module, extra: dict[str, torch.Tensor] | None) -> dict[str, torch.Tensor]:
    out = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    for k, v in (extra or {}).items():
        out[RESUME_PREFIX + k] = v.detach().to("cpu").contiguous().clone()
    return out


def save_checkpoint(
    path_stem: str | Path, model: nn.Module, meta: dict, extra: dict[str, torch.Tensor] | None = None
) -> Path:
    """Write `<stem>.safetensors` then `<stem>.json` atomically; the JSON records the weights' sha256.

    `meta` gets `code_version`, `created` and `command` when absent; `extra` tensors (optimizer and RNG state
    of a resume point) are stored under the 'resume.' prefix. Returns the weights path.
    """
    from safetensors.torch import save as st_save

    stem = stem_of(path_stem)
    try:
        blob = st_save(_tensors(model, extra), metadata={"format": "pt", "producer": "partkd"})
    except (RuntimeError, ValueError) as e:
        raise CheckpointError(where(stem, f"cannot serialise weights ({e})")) from None
    full = {
        "code_version": code_version(),
        "command": command_line(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **meta,
        "schema_version": SCHEMA_VERSION,
        "weights": stem.name + WEIGHTS_SUFFIX,
        "weights_sha256": hashlib.sha256(blob).hexdigest(),
    }
    weights, meta_path = stem.with_name(stem.name + WEIGHTS_SUFFIX), stem.with_name(stem.name + META_SUFFIX)
    # The two files are replaced one after the other. Until the new JSON is in place, the weights the old JSON
    # describes stay reachable as a hidden backup, so a crash between the two renames leaves a loadable pair.
    backup = _backup(weights)
    if weights.is_file() and not _described_by_backup(weights, meta_path):
        backup.unlink(missing_ok=True)
        try:
            os.link(weights, backup)
        except OSError:  # no hard links on this filesystem: copy instead
            atomic_write_bytes(backup, weights.read_bytes())
    atomic_write_bytes(weights, blob)
    atomic_write_json(meta_path, full)
    backup.unlink(missing_ok=True)
    return weights


def update_meta(path: str | Path, **updates: Any) -> dict:
    """Merge keys into a checkpoint's JSON metadata (atomic rewrite); returns the new metadata."""
    stem = stem_of(path)
    meta = read_meta(stem)
    meta.update(updates)
    atomic_write_json(stem.with_name(stem.name + META_SUFFIX), meta)
    return meta


def read_meta(path: str | Path) -> dict:
    """The JSON metadata of a checkpoint (given its stem, weights, JSON path or run folder)."""
    stem = stem_of(path)
    meta_path = stem.with_name(stem.name + META_SUFFIX)
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(where(meta_path, "checkpoint metadata not found")) from None
    except (OSError, ValueError) as e:
        raise CheckpointError(where(meta_path, f"unreadable checkpoint metadata ({e})")) from None
    if not isinstance(meta, dict) or "model" not in meta or "layout" not in meta or "class_names" not in meta:
        raise CheckpointError(where(meta_path, "not a partkd checkpoint (needs model, layout, class_names)"))
    version = meta.get("schema_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= SCHEMA_VERSION:
        raise CheckpointError(
            where(
                meta_path,
                f"metadata schema {version!r} is not one this partkd reads (0..{SCHEMA_VERSION}): "
                "written by a newer version?",
            )
        )
    data = meta.get("data")
    if version < 2 and isinstance(data, dict) and data.get("source") == "synthetic":
        data.setdefault("synth_motion", "coupled")  # schema 1 predates the clean action set
    return meta


def read_tensors(path: str | Path, meta: dict | None = None) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint: safetensors (checked against the JSON's sha256), or a .pt state dict
    loaded with `torch.load(weights_only=True)`; never unrestricted pickle."""
    import torch
    from safetensors.torch import load as st_load

    p = Path(path)
    stem = stem_of(p)
    if p.suffix in (".pt", ".pth"):
        try:
            state = torch.load(p, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise CheckpointError(where(p, "checkpoint weights not found")) from None
        except Exception as e:  # noqa: BLE001 - any refusal or parse failure is an unsafe/corrupt file
            raise CheckpointError(where(p, f"not a plain tensor state dict ({type(e).__name__})")) from None
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise CheckpointError(where(p, "not a plain tensor state dict"))
        return state
    weights = stem.with_name(stem.name + WEIGHTS_SUFFIX)
    try:
        blob = weights.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(where(weights, "checkpoint weights not found")) from None
    except OSError as e:
        raise CheckpointError(where(weights, f"cannot read ({e.strerror})")) from None
    expected = (meta or {}).get("weights_sha256")
    if expected and hashlib.sha256(blob).hexdigest() != expected:
        try:  # a save interrupted between its two renames: the weights this JSON describes are the backup
            blob = _backup(weights).read_bytes()
        except OSError:
            blob = b""
        if hashlib.sha256(blob).hexdigest() != expected:
            raise CheckpointError(
                where(weights, "weights do not match their metadata (interrupted write or edited file)")
            )
    try:
        return st_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(where(weights, f"corrupt safetensors file ({e})")) from None


def build_from_meta(meta: dict, source: object = "checkpoint") -> nn.Module:
    """Rebuild the (untrained) model a checkpoint's metadata describes."""

    info = dict(meta["model"])
    layout = layout_from_dict(meta["layout"], source)
    try:
        num_classes = int(info.pop("num_classes"))
        cfg = ModelConfig.from_dict(info)
        return build_model(cfg.arch, layout, num_classes, cfg)
    except (KeyError, TypeError, ValueError, ConfigError) as e:
        raise CheckpointError(where(source, f"model description not understood ({e})")) from None


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Loaded:
    """Rebuild the model from `meta["model"]`, load its weights (strict) and return it in eval mode."""
    import torch

    p = Path(path)
    meta = read_meta(p)
    tensors = read_tensors(p, meta)
    state = {k: v for k, v in tensors.items() if not k.startswith(RESUME_PREFIX)}
    with torch.device("meta"):  # shapes only: nothing is allocated for whatever size the metadata claims
        expected = {k: tuple(v.shape) for k, v in build_from_meta(meta, p).state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected != found:
        key = (
            min(set(expected) ^ set(found))
            if set(expected) != set(found)
            else min(k for k in expected if expected[k] != found[k])
        )
        raise CheckpointError(
            where(
                p,
                f"weights do not fit the described model ({key}: described "
                f"{expected.get(key, 'absent')}, stored {found.get(key, 'absent')})",
            )
        )
    model = build_from_meta(meta, p)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(where(p, f"weights do not fit the described model ({first})")) from None
    model.to(device).eval()
    return Loaded(model, meta, stem_of(p).with_suffix(WEIGHTS_SUFFIX) if p.suffix != ".pt" else p)


def resume_tensors(path: str | Path) -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(meta, model state, extra resume tensors without their prefix) of a resume point such as `last`."""
    meta = read_meta(path)
    tensors = read_tensors(path, meta)
    model = {k: v for k, v in tensors.items() if not k.startswith(RESUME_PREFIX)}
    extra = {k[len(RESUME_PREFIX) :]: v for k, v in tensors.items() if k.startswith(RESUME_PREFIX)}
    return meta, model, extra


def list_checkpoints(*folders: str | Path) -> list[dict]:
    """Finished checkpoints (not `last` resume points) under the folders (default `checkpoints/`), newest first."""
    found: list[dict] = []
    for folder in folders or (Path("checkpoints"),):
        root = Path(folder)
        if not root.is_dir():
            continue
        for meta_path in sorted(root.rglob("*" + META_SUFFIX)):
            if meta_path.name == "last" + META_SUFFIX or not meta_path.with_suffix(WEIGHTS_SUFFIX).exists():
                continue
            try:
                meta = read_meta(meta_path)
            except PartKDError:
                continue
            found.append(
                {
                    "path": str(meta_path.with_suffix(WEIGHTS_SUFFIX)),
                    "role": meta.get("role", ""),
                    "name": meta.get("name", meta_path.stem),
                    "layout": meta["layout"].get("name", ""),
                    "classes": list(meta["class_names"]),
                    "metrics": meta.get("metrics", {}),
                    "created": meta.get("created", ""),
                }
            )
    return sorted(found, key=lambda r: r["created"], reverse=True)


__all__ = [
    "kd_method",
    "Loaded",
    "save_checkpoint",
    "load_checkpoint",
    "read_meta",
    "update_meta",
    "list_checkpoints",
    "read_tensors",
    "resume_tensors",
    "build_from_meta",
    "model_meta",
    "code_version",
    "command_line",
    "SCHEMA_VERSION",
    "stem_of",
]
