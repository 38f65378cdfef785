"""The checkpoints a user can pick (the app's teacher and student pickers): which picker a checkpoint belongs to,
whether it reads a dataset, how it is named and described, and where it comes from."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from partkd.checkpoints import kd_method, read_meta, stem_of
from partkd.data.dataset import SkeletonDataset
from partkd.errors import CheckpointError, PartKDError, where

#: The three model pickers (slot -> label): the teacher and the students without and with KD.
ROLES: dict[str, str] = {"teacher": "Teacher (high quality)", "nokd": "Student without KD", "kd": "Student with KD"}


class CheckpointRow(TypedDict):
    """One checkpoint as `partkd.checkpoints.list_checkpoints` lists it."""

    path: str
    role: str
    name: str
    layout: str
    classes: list[str]
    metrics: dict[str, float]
    created: str


class CheckpointSummary(TypedDict):
    """A checkpoint in a table: file, folder, role, layout, class count, KD method, preset, validation top-1."""

    file: str
    folder: str
    role: str
    layout: str
    classes: int
    kd: str
    preset: str
    top1: float | None
    created: str


def val_top1(meta: Mapping[str, object]) -> float | None:
    """The validation top-1 a checkpoint's metadata records (None when absent)."""
    metrics = meta.get("metrics")
    value = metrics.get("val_top1") if isinstance(metrics, dict) else None
    return None if value is None else float(value)


def describe_checkpoint(path: str) -> CheckpointSummary:
    """A short, JSON-able description of a checkpoint for tables (name, layout, KD, metrics)."""
    meta = read_meta(path)
    return {
        "file": Path(path).name,
        "folder": str(Path(path).parent),
        "role": meta.get("role", ""),
        "layout": meta.get("layout", {}).get("name", ""),
        "classes": len(meta.get("class_names", [])),
        "kd": kd_method(meta) if meta.get("role") == "student" else "",
        "preset": str(meta.get("preset", (meta.get("train") or {}).get("preset", ""))),
        "top1": val_top1(meta),
        "created": meta.get("created", ""),
    }


def checkpoint_name(path: str | Path) -> str:
    """A checkpoint's display name: its file stem, or its run folder's name for a run's `model.*`."""
    p = Path(path)
    if p.stem != "model":
        return p.stem
    return p.parent.name if p.parent.name not in ("", "run") else p.parent.parent.name


def role_of(row: CheckpointRow) -> str:
    """The picker a listed checkpoint belongs to: 'teacher', 'nokd' (a student without KD) or 'kd'."""
    if row["role"] == "teacher":
        return "teacher"
    try:
        return "nokd" if kd_method(read_meta(row["path"])) == "none" else "kd"
    except PartKDError:
        return "kd"


def check_role(path: str, slot: str) -> None:
    """CheckpointError unless the checkpoint fits its picker: a teacher for 'teacher', a student otherwise."""
    want = "teacher" if slot == "teacher" else "student"
    role = read_meta(path).get("role") or "unknown"
    if role != want:
        raise CheckpointError(where(path, f"is a {role} checkpoint; the '{ROLES[slot]}' picker needs a {want}"))


def fits(row: CheckpointRow, ds: SkeletonDataset) -> bool:
    """A listed checkpoint reads this dataset: the same layout and the same classes in the same order."""
    return row["layout"] == ds.layout.name and list(row["classes"]) == list(ds.class_names)


def split_problem(ds: SkeletonDataset) -> str | None:
    """Why no model can be trained or tested on a dataset (it lacks train or test clips), as the end of a sentence
    naming it; None when it has both."""
    train, test = (int((ds.split == s).sum()) for s in ("train", "test"))
    if train and test:
        return None
    missing = " and no ".join(s for s, n in (("train", train), ("test", test)) if not n)
    return (
        f"has no {missing} clip ({len(ds)} clips: {train} train, {test} test), so it is offered neither for "
        "training nor for evaluation"
    )


def unique_rows(rows: Sequence[CheckpointRow]) -> list[CheckpointRow]:
    """The rows without repeats of a file listed under two folders (the first kept)."""
    seen: set[str] = set()
    unique = []
    for r in rows:
        key = str(Path(r["path"]).resolve())
        if key not in seen:
            seen.add(key)
            unique.append(r)
    return unique


def same_teacher(student_meta: Mapping[str, object] | None, teacher_path: str | None) -> bool:
    """Whether a KD student was distilled from the checkpoint at teacher_path: the same weights (sha256) where the
    student records them, else the same file."""
    kd = (student_meta or {}).get("kd") or {}
    if not isinstance(kd, dict) or not teacher_path:
        return False
    sha = kd.get("teacher_sha256")
    if sha:
        try:
            return read_meta(teacher_path).get("weights_sha256") == sha
        except PartKDError:
            return False
    theirs = kd.get("teacher")
    if not theirs:
        return False
    try:
        return stem_of(theirs).resolve() == stem_of(teacher_path).resolve()
    except OSError:
        return False


@dataclass(frozen=True)
class CheckpointFolders:
    """Where the pickers look: the user's folder (or None), the shipped checkpoints and the jobs root."""

    mine: str | None
    shipped: Path
    jobs: Path

    def scanned(self) -> tuple[str, ...]:
        """The folders to list, the user's first."""
        return tuple(str(f) for f in (self.mine, self.shipped, self.jobs) if f)

    def origin(self, path: Path) -> str:
        """Where a checkpoint comes from: 'yours', 'shipped' or 'job', with its sub-folder (a job's id), else its
        folder."""
        for base, label in ((self.mine, "yours"), (self.shipped, "shipped"), (self.jobs, "job")):
            if base and path.is_relative_to(base):
                inner = path.parent.relative_to(base).parts
                return f"{label} {inner[0]}" if inner else label
        return str(path.parent)

    def job_name(self, job_id: str) -> str:
        """A job's name (its job.json), or its id when unreadable."""
        try:
            return str(json.loads((self.jobs / job_id / "job.json").read_text())["name"])
        except (OSError, ValueError, KeyError):
            return job_id

    def label(self, row: CheckpointRow) -> str:
        """Picker label: name, where it comes from and layout; a job's model is named after its job."""
        p = Path(row["path"]).resolve()
        origin, name = self.origin(p), checkpoint_name(p)
        if origin.startswith("job ") and p.stem == "model" and p.parent.name == "run":
            name = self.job_name(origin[4:])
        return f"{name} · {origin} · {row['layout']}"

    def preferred(self, labels: Mapping[str, str]) -> str | None:
        """The label to pick by default among {label: path}: one of the user's folder, else a shipped one, else the
        first (the newest); None when there is none."""
        for base in (self.mine, self.shipped):
            hits = [lab for lab, p in labels.items() if base and Path(p).resolve().is_relative_to(Path(base).resolve())]
            if hits:
                return hits[0]
        return next(iter(labels), None)
