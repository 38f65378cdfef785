"""File reading and atomic writes (temporary file in the same folder, fsync, rename; never a half-written file)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from partkd.errors import ConfigError, PartKDError, where


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise PartKDError(where(path, f"cannot write ({e.strerror})")) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise PartKDError(where(path, f"cannot write ({e.strerror})")) from None


def atomic_write_text(path: Path | str, text: str) -> None:
    """Atomic write of UTF-8 text."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path | str, obj: object) -> None:
    """Atomic write of an object as indented JSON."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


@contextmanager
def removed_on_failure(folder: Path | str) -> Iterator[None]:
    """Run a block that fills `folder`; when it fails, remove the folder if the block created it and no checkpoint
    (*.safetensors, kept for --resume) was written into it."""
    path = Path(folder)
    existed = path.exists()
    try:
        yield
    except BaseException:
        if not existed and path.is_dir() and not any(path.glob("*.safetensors")):
            shutil.rmtree(path, ignore_errors=True)
        raise


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning a missing file or a syntax error into one ConfigError line."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(where(p, "config file not found")) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(where(p, f"invalid TOML ({e})")) from None
    except OSError as e:
        raise ConfigError(where(p, f"cannot read ({e.strerror})")) from None
