"""Joint re-mapping between layouts by joint name: a data table of sources and face points, no per-layout code."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partkd.errors import LayoutError, where
from partkd.layouts import Layout


def _side(table: dict[str, tuple]) -> dict[str, tuple]:
    """Add the right-side twin of every left_* entry (left_ <-> right_ swapped in all names)."""

    def flip(s: str) -> str:
        return s.replace("left_", "\0").replace("right_", "left_").replace("\0", "right_")

    twins = {flip(k): tuple(tuple((flip(j), w) for j, w in alt) for alt in alts) for k, alts in table.items()}
    return {**table, **twins}


_MID_SHOULDERS = (("left_shoulder", 0.5), ("right_shoulder", 0.5))
_MID_HIPS = (("left_hip", 0.5), ("right_hip", 0.5))
_MID_TORSO = tuple((j, 0.25) for j in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"))

# A target joint takes the source joint of the same name; otherwise the first alternative listed here
# whose joints the source has (an alternative is a weighted mix of source joints). "shoulder_mid" is the
# point between the shoulders, used with "head" to place face points.
JOINT_SOURCES: dict[str, tuple[tuple[tuple[str, float], ...], ...]] = _side(
    {
        "shoulder_mid": ((("spine_shoulder", 1.0),), (("shoulder_center", 1.0),), (("neck", 1.0),), _MID_SHOULDERS),
        "neck": ((("spine_shoulder", 1.0),), (("shoulder_center", 1.0),), _MID_SHOULDERS),
        "spine_shoulder": ((("shoulder_center", 1.0),), (("neck", 1.0),), _MID_SHOULDERS),
        "shoulder_center": ((("spine_shoulder", 1.0),), (("neck", 1.0),), _MID_SHOULDERS),
        "spine_base": ((("hip_center", 1.0),), _MID_HIPS),
        "hip_center": ((("spine_base", 1.0),), _MID_HIPS),
        "spine_mid": ((("spine", 1.0),), _MID_TORSO),
        "spine": ((("spine_mid", 1.0),), _MID_TORSO),
        "head": ((("left_ear", 0.5), ("right_ear", 0.5)), (("nose", 1.0),)),
        "left_hand": ((("left_wrist", 1.0),),),
        "left_hand_tip": ((("left_hand", 1.0),), (("left_wrist", 1.0),)),
        "left_thumb": ((("left_hand", 1.0),), (("left_wrist", 1.0),)),
        "left_foot": ((("left_ankle", 1.0),),),
    }
)

# Face points placed around the head when the source has none: offset = a * (head - shoulder_mid) + b * l,
# l = (left_shoulder - right_shoulder) made orthogonal to the head-neck direction.
FACE_POINTS: dict[str, tuple[float, float]] = {
    "nose": (-0.10, 0.0),
    "left_eye": (0.05, 0.10),
    "right_eye": (0.05, -0.10),
    "left_ear": (0.0, 0.22),
    "right_ear": (0.0, -0.22),
}
_FACE_ANCHORS = ("head", "shoulder_mid", "left_shoulder", "right_shoulder")


def _mix_row(name: str, source: Layout) -> np.ndarray | None:
    """Weights (Vs,) over source joints for one target joint name, or None when unresolvable."""
    index = source.canonical_index()
    for alt in (((name, 1.0),),) + JOINT_SOURCES.get(name, ()):
        if all(j in index for j, _ in alt):
            row = np.zeros(source.num_joints)
            row[[index[j] for j, _ in alt]] = [w for _, w in alt]
            return row
    return None


@dataclass(frozen=True)
class JointMap:
    """Linear re-mapping source -> target (weights (Vt, Vs)) plus face points built from 4 anchors."""

    weights: np.ndarray
    anchors: np.ndarray
    face: np.ndarray
    is_face: np.ndarray


def accepted_sources(name: str) -> str:
    """What a source layout may offer for target joint `name`: the name itself or one of its mixes."""
    alts = [" + ".join(j for j, _ in alt) for alt in JOINT_SOURCES.get(name, ())]
    return name + (f" (or {' or '.join(alts)})" if alts else "")


def unmapped_message(source: Layout, target: Layout, missing: list[str]) -> str:
    """The error naming every canonical joint the source lacks and the layout-file line that adds it."""
    face = [n for n in missing if n in _FACE_ANCHORS and n not in target.joints]
    own = [n for n in missing if n not in face]
    need = ", ".join(accepted_sources(n) for n in own)
    if face:
        need += ("; " if need else "") + "for the face points: " + ", ".join(accepted_sources(n) for n in face)
    example = next(iter(own + face))
    return (
        f"cannot map '{source.name}' to '{target.name}': joints are matched by name and no joint of "
        f"'{source.name}' is named or aliased {need}. Add them to its layout file as "
        f'"aliases": {{"<your joint>": "{example}", ...}} (docs/data_formats.md, joint matching)'
    )


def joint_map(source: Layout, target: Layout) -> JointMap:
    """Resolve every target joint by name through JOINT_SOURCES, then FACE_POINTS; LayoutError if not."""
    rows, face, is_face, missing = [], [], [], []
    for name in target.joints:
        row = _mix_row(name, source)
        fp = name in FACE_POINTS and row is None
        if row is None and not fp:
            missing.append(name)
        rows.append(np.zeros(source.num_joints) if row is None else row)
        face.append(FACE_POINTS.get(name, (0.0, 0.0)) if fp else (0.0, 0.0))
        is_face.append(fp)
    anchor_rows = [_mix_row(a, source) for a in _FACE_ANCHORS]
    if any(is_face):
        missing += [a for a, r in zip(_FACE_ANCHORS, anchor_rows) if r is None and a not in missing]
    if missing:
        raise LayoutError(where("simulate_estimator", unmapped_message(source, target, missing)))
    anchors = np.stack([r if r is not None else np.zeros(source.num_joints) for r in anchor_rows])
    return JointMap(np.stack(rows), anchors, np.asarray(face), np.asarray(is_face))


def joint_report(source: Layout, target: Layout) -> dict[str, dict[str, str]]:
    """How the simulation builds each target joint from `source`: 'mapped' (one source joint of that name or
    alias), 'mixed' (a weighted mix or a stand-in joint, e.g. neck = the shoulders' mean) or 'placed' (a face point
    set around the head); {kind: {target joint: what it is made of}}. LayoutError when a joint cannot be made."""
    jm = joint_map(source, target)
    index = source.canonical_index()
    out: dict[str, dict[str, str]] = {"mapped": {}, "mixed": {}, "placed": {}}
    for name, row, face in zip(target.joints, jm.weights, jm.is_face):
        used = [int(j) for j in np.flatnonzero(row)]
        if face:
            out["placed"][name] = "a face point set from the head and shoulders"
        elif len(used) == 1 and row[used[0]] == 1.0 and index.get(name) == used[0]:
            out["mapped"][name] = source.joints[used[0]]
        else:
            out["mixed"][name] = " + ".join(f"{row[j]:g} {source.joints[j]}" for j in used)
    return out


def apply_joint_map(jm: JointMap, xy: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map 2D points (..., Vs, 2) with presence (..., Vs) to the target: (..., Vt, 2) and presence."""
    out = jm.weights @ xy
    out_ok = ((~ok).astype(np.float64) @ (jm.weights != 0).T.astype(np.float64)) == 0
    head, neck, ls, rs = np.moveaxis(jm.anchors @ xy, -2, 0)
    up = head - neck
    lat = ls - rs
    lat = lat - up * ((lat * up).sum(-1, keepdims=True) / np.maximum((up * up).sum(-1, keepdims=True), 1e-12))
    face = head[..., None, :] + jm.face[:, :1] * up[..., None, :] + jm.face[:, 1:] * lat[..., None, :]
    anchors_ok = ((~ok).astype(np.float64) @ (jm.anchors != 0).T.astype(np.float64)).sum(-1) == 0
    out = np.where(jm.is_face[:, None], face, out)
    out_ok = np.where(jm.is_face, anchors_ok[..., None], out_ok)
    return out, out_ok


__all__ = [
    "FACE_POINTS",
    "JOINT_SOURCES",
    "JointMap",
    "accepted_sources",
    "apply_joint_map",
    "joint_map",
    "joint_report",
]
