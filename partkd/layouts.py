"""Skeleton layouts as data: joint names, edges, centre joint and the five-part map (method.md §3)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from partkd.errors import LayoutError, where
from partkd.registry import Registry

PARTS: tuple[str, ...] = ("head", "left_arm", "right_arm", "left_leg", "right_leg")
#: Axis a 3D layout's data points up along (a sign for a downward axis); partkd works y-up (data/axes.py).
UP_AXES: tuple[str, ...] = ("y", "z", "x", "-y", "-z", "-x")
#: Length units a 3D layout's data may be in, as metres per unit; partkd works in metres.
UNITS: dict[str, float] = {"m": 1.0, "cm": 0.01, "mm": 0.001}


@dataclass(frozen=True)
class Layout:
    """A skeleton: joints, bones as (child, parent) pairs, centre joint, part of each joint, 2D or 3D.

    `aliases` map a joint to the canonical name the estimator simulation matches by (e.g. LSHO -> left_shoulder);
    `up` and `units` say how a 3D file's coordinates are given (None: already y-up and in metres, or unknown)."""

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    parts: tuple[int, ...]
    dims: int
    description: str = ""
    aliases: tuple[tuple[str, str], ...] = ()
    up: str | None = None
    units: str | None = None
    _cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def channels(self) -> int:
        """Coordinate channels C: 3 for both 3D (x, y, z) and 2D (x, y, confidence)."""
        return 3

    def canonical_index(self) -> dict[str, int]:
        """Joint index by name, for name matching: every joint's own name and its alias (method.md §7)."""
        index = {n: i for i, n in enumerate(self.joints)}
        index.update({a: index[j] for j, a in self.aliases})
        return index

    def part_joints(self, part: int | str) -> np.ndarray:
        """Indices of the joints belonging to a part (by index or name)."""
        p = PARTS.index(part) if isinstance(part, str) else int(part)
        return np.flatnonzero(np.asarray(self.parts) == p)

    def part_matrix(self) -> np.ndarray:
        """(5, V) averaging matrix: row p holds 1/|p| on the joints of part p."""
        m = np.zeros((len(PARTS), self.num_joints), dtype=np.float32)
        m[np.asarray(self.parts), np.arange(self.num_joints)] = 1.0
        return m / m.sum(axis=1, keepdims=True)

    def parents(self) -> np.ndarray:
        """Parent of every joint along the bone tree (the centre is its own parent)."""
        if "parents" not in self._cache:
            par = np.full(self.num_joints, -1, dtype=np.int64)
            nbrs: dict[int, list[int]] = {v: [] for v in range(self.num_joints)}
            for a, b in self.edges:
                nbrs[a].append(b)
                nbrs[b].append(a)
            par[self.center] = self.center
            queue = [self.center]
            while queue:
                v = queue.pop(0)
                for u in nbrs[v]:
                    if par[u] < 0:
                        par[u] = v
                        queue.append(u)
            self._cache["parents"] = par
        return self._cache["parents"]

    def to_dict(self) -> dict:
        """Plain-data form, the same shape as a layout file."""
        return {
            "name": self.name,
            "dims": self.dims,
            "joints": list(self.joints),
            "edges": [list(e) for e in self.edges],
            "center": self.center,
            "parts": {p: [int(j) for j in self.part_joints(i)] for i, p in enumerate(PARTS)},
            "description": self.description,
            **({"aliases": dict(self.aliases)} if self.aliases else {}),
            **({"up": self.up} if self.up is not None else {}),
            **({"units": self.units} if self.units is not None else {}),
        }


def validate(layout: Layout, source: object | None = None) -> None:
    """Check edges in range, a connected graph, and every joint in exactly one non-empty part."""
    src = source or f"layout {layout.name!r}"
    v = len(layout.joints)
    if v == 0:
        raise LayoutError(where(src, "has no joints"))
    if layout.dims not in (2, 3):
        raise LayoutError(where(src, f"dims must be 2 or 3, got {layout.dims}"))
    if len(set(layout.joints)) != v:
        raise LayoutError(where(src, "joint names are not unique"))
    if not all(n.isprintable() and n.strip() for n in (layout.name, *layout.joints)):
        raise LayoutError(where(src, "layout and joint names must be non-blank printable text"))
    for a, b in layout.edges:
        if not (0 <= a < v and 0 <= b < v):
            raise LayoutError(where(src, f"edge ({a}, {b}) is out of range for {v} joints"))
        if a == b:
            raise LayoutError(where(src, f"edge ({a}, {b}) is a self-loop"))
    if not 0 <= layout.center < v:
        raise LayoutError(where(src, f"center {layout.center} is out of range for {v} joints"))
    if len(layout.parts) != v:
        raise LayoutError(where(src, f"part map has {len(layout.parts)} entries for {v} joints"))
    bad = [layout.joints[j] for j, p in enumerate(layout.parts) if not 0 <= p < len(PARTS)]
    if bad:
        raise LayoutError(where(src, f"joints in no part: {', '.join(bad)}"))
    empty = [p for i, p in enumerate(PARTS) if i not in set(layout.parts)]
    if empty:
        raise LayoutError(where(src, f"empty parts: {', '.join(empty)}"))
    _validate_extras(layout, src)
    reach = np.zeros(v, dtype=bool)
    adj = np.zeros((v, v), dtype=bool)
    for a, b in layout.edges:
        adj[a, b] = adj[b, a] = True
    reach[layout.center] = True
    frontier = reach.copy()
    while frontier.any():
        frontier = adj[frontier].any(axis=0) & ~reach
        reach |= frontier
    if not reach.all():
        missing = [layout.joints[j] for j in np.flatnonzero(~reach)]
        raise LayoutError(where(src, f"graph is not connected: {', '.join(missing)} unreachable"))


def _validate_extras(layout: Layout, src: object) -> None:
    """Aliases name existing joints and give distinct canonical names; up / units are known and only for 3D."""
    joints = set(layout.joints)
    for j, a in layout.aliases:
        if j not in joints:
            raise LayoutError(where(src, f"alias of unknown joint {j!r}"))
        if not (isinstance(a, str) and a.strip() and a.isprintable()):
            raise LayoutError(where(src, f"alias of {j!r} must be a non-blank name, got {a!r}"))
    names = [dict(layout.aliases).get(j, j) for j in layout.joints]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise LayoutError(where(src, f"several joints are named or aliased {', '.join(dup)}"))
    if layout.up is not None and layout.up not in UP_AXES:
        raise LayoutError(where(src, f"up must be one of {', '.join(UP_AXES)}, got {layout.up!r}"))
    if layout.units is not None and layout.units not in UNITS:
        raise LayoutError(where(src, f"units must be one of {', '.join(UNITS)}, got {layout.units!r}"))
    if layout.dims == 2 and (layout.up, layout.units) != (None, None):
        raise LayoutError(where(src, "up and units describe 3D coordinates; a 2D layout is in image pixels"))


def build_layout(
    name: str,
    dims: int,
    joints: list[str],
    edges: list[tuple[int, int]],
    center: int,
    parts: dict[str, list[int]],
    description: str,
) -> Layout:
    """A Layout from joint names, bones as index pairs, the centre joint and each part's joint indices."""
    part_of = [-1] * len(joints)
    for p, js in parts.items():
        for j in js:
            part_of[j] = PARTS.index(p)
    return Layout(name, tuple(joints), tuple(edges), center, tuple(part_of), dims, description)


#: The built-in layouts by name (defined in layout_tables.py, loaded on first use).
BUILTIN: Registry[Layout] = Registry("layout", error=LayoutError, hint=", or a .json/.toml layout file")
for _name in ("ntu25", "kinect_v1_20", "coco17", "penn13", "openpose18", "h36m17", "mpii16"):
    BUILTIN.declare(_name, f"partkd.layout_tables:{_name}")


def layout_from_dict(d: dict, source: object = "layout") -> Layout:
    """Build a Layout from the file format (joint names or indices allowed in edges, center and parts)."""
    try:
        joints = [str(j) for j in d["joints"]]
        index = {n: i for i, n in enumerate(joints)}

        def idx(x: object) -> int:
            if isinstance(x, str):
                if x not in index:
                    raise LayoutError(where(source, f"unknown joint name {x!r}"))
                return index[x]
            if isinstance(x, bool) or not isinstance(x, int):
                raise LayoutError(where(source, f"joint reference {x!r} is neither a name nor an index"))
            return x

        edges = [(idx(a), idx(b)) for a, b in d["edges"]]
        parts_in = d["parts"]
        if not isinstance(parts_in, dict):
            raise LayoutError(where(source, "'parts' must map part names to joint lists"))
        unknown = set(parts_in) - set(PARTS)
        if unknown:
            raise LayoutError(where(source, f"unknown part names {sorted(unknown)}; use {list(PARTS)}"))
        part_of = [-1] * len(joints)
        for p, js in parts_in.items():
            for j in js:
                k = idx(j)
                if not 0 <= k < len(joints):
                    raise LayoutError(where(source, f"part '{p}' names joint {k}, out of range"))
                if part_of[k] >= 0:
                    raise LayoutError(where(source, f"joint '{joints[k]}' is in more than one part"))
                part_of[k] = PARTS.index(p)
        aliases = d.get("aliases", {})
        if not isinstance(aliases, dict):
            raise LayoutError(where(source, "'aliases' must map joint names to canonical names"))
        layout = Layout.__new__(Layout)
        fields: dict[str, object] = dict(
            name=str(d.get("name", Path(str(source)).stem)),
            joints=tuple(joints),
            edges=tuple(edges),
            center=idx(d.get("center", 0)),
            parts=tuple(part_of),
            dims=int(d.get("dims", 2)),
            description=str(d.get("description", "")),
            aliases=tuple((str(j), a) for j, a in aliases.items()),
            up=None if d.get("up") is None else str(d["up"]),
            units=None if d.get("units") is None else str(d["units"]),
            _cache={},
        )
        for key, val in fields.items():
            object.__setattr__(layout, key, val)
    except LayoutError:
        raise
    except (KeyError, TypeError, ValueError) as e:
        raise LayoutError(where(source, f"malformed layout ({type(e).__name__}: {e})")) from None
    validate(layout, source)
    return layout


def load_layout_file(path: str | Path) -> Layout:
    """Read a layout from a .json or .toml file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise LayoutError(where(p, f"cannot read layout file ({e.strerror})")) from None
    try:
        d = tomllib.loads(raw.decode()) if p.suffix.lower() == ".toml" else json.loads(raw)
    except (ValueError, RecursionError) as e:  # RecursionError: nesting deeper than the parser can follow
        raise LayoutError(where(p, f"not valid {p.suffix.lstrip('.') or 'JSON'}: {e}")) from None
    if not isinstance(d, dict):
        raise LayoutError(where(p, "layout file must hold one object"))
    return layout_from_dict(d, p)


def get_layout(name_or_path: str | Path | Layout) -> Layout:
    """A built-in layout by name, or one read from a JSON/TOML file path."""
    if isinstance(name_or_path, Layout):
        return name_or_path
    s = str(name_or_path)
    if s.endswith((".json", ".toml")):
        return load_layout_file(s)
    return BUILTIN.get(s)
