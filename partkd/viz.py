"""Plotly figures shared by the Streamlit app and the reports: skeleton animations, matrix E, predictions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from partkd.layouts import PARTS, Layout

PART_COLORS: dict[str, str] = {
    "head": "#1f77b4",
    "left_arm": "#2ca02c",
    "right_arm": "#d62728",
    "left_leg": "#ff7f0e",
    "right_leg": "#9467bd",
}
PART_LABELS: dict[str, str] = {p: p.replace("_", " ") for p in PARTS}
OCCLUDED_COLOR = "#9e9e9e"
CORRECT_COLOR = "#2e7d32"
WRONG_COLOR = "#c62828"
OTHER_COLOR = "#b0bec5"
REFERENCE_COLOR = "rgba(60, 60, 60, 0.35)"
#: Traces of a panel: bones and joints per part, occluded bones, occluded joints (+1 when it has a reference).
TRACES_PER_PANEL = 2 * len(PARTS) + 2


@dataclass(frozen=True)
class Panel:
    """One skeleton view: a clip (M, T, V, C), its layout, joints to draw as occluded (M, T, V), a title, and
    optionally a reference skeleton in the same layout and frames drawn faintly beneath (e.g. the ground truth)."""

    clip: np.ndarray
    layout: Layout
    occluded_mask: np.ndarray | None = None
    title: str = ""
    reference: np.ndarray | None = None
    unit: str = ""


def joint_valid(clip: np.ndarray) -> np.ndarray:
    """(M, T, V) True where a joint is present (missing joints are all-zero by convention)."""
    return np.any(np.asarray(clip) != 0, axis=-1)


def occlusion_mask(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """(M, T, V) joints present in `before` and removed in `after` (an occluded copy of the same clip)."""
    return joint_valid(before) & ~joint_valid(after)


def _visible_extent(clip: np.ndarray) -> tuple[list[int], int]:
    """Persons with any joint present and the number of frames up to the last non-empty one."""
    valid = joint_valid(clip)
    persons = [m for m in range(clip.shape[0]) if valid[m].any()] or [0]
    frames_with_data = np.flatnonzero(valid.any(axis=(0, 2)))
    length = int(frames_with_data[-1]) + 1 if frames_with_data.size else clip.shape[1]
    return persons, max(length, 1)


def drawing_axes(clip: np.ndarray, layout: Layout) -> tuple[list[int], np.ndarray]:
    """Coordinate axes to plot and their signs: 3D puts the head-to-feet axis last ('up', pointing to the head)
    and mirrors the horizontal axis so a subject facing the camera shows its left side on the viewer's right,
    as in an image; 2D keeps (x, y) and signals image coordinates (y down) with a negative y sign."""
    valid = joint_valid(clip)
    parts = np.asarray(layout.parts)
    head, legs = valid & (parts == 0), valid & ((parts == 3) | (parts == 4))
    left, right = valid & ((parts == 1) | (parts == 3)), valid & ((parts == 2) | (parts == 4))
    dims = 3 if layout.dims == 3 else 2
    if not head.any() or not legs.any():
        return ([0, 2, 1], np.ones(3)) if dims == 3 else ([0, 1], np.ones(2))
    xyz = clip[..., :dims]
    up_vec = xyz[head].mean(axis=0) - xyz[legs].mean(axis=0)
    if dims == 2:
        return [0, 1], np.array([1.0, -1.0 if up_vec[1] < 0 else 1.0])
    up = int(np.argmax(np.abs(up_vec)))
    rest = [a for a in range(3) if a != up]
    side = xyz[left].mean(axis=0) - xyz[right].mean(axis=0) if left.any() and right.any() else np.ones(3)
    across = rest[int(np.argmax(np.abs(side[rest])))]
    depth = rest[0] if across == rest[1] else rest[1]
    return [across, depth, up], np.array([1.0 if side[across] >= 0 else -1.0, 1.0, 1.0 if up_vec[up] >= 0 else -1.0])


def _frame_traces(panel: Panel, t: int, axes: list[int], signs: np.ndarray) -> list[dict]:
    """The panel's TRACES_PER_PANEL trace dicts at frame t: bones and joints per part, then occluded ones."""
    clip, layout = panel.clip, panel.layout
    persons, _ = _visible_extent(clip)
    valid = joint_valid(clip)[:, t]
    occ = (panel.occluded_mask[:, t] & valid) if panel.occluded_mask is not None else np.zeros_like(valid)
    shown = valid & ~occ
    parts = np.asarray(layout.parts)
    pts = (clip[:, t][..., axes] * _draw_signs(signs)).astype(float)

    def coords(points: Sequence[np.ndarray | None]) -> dict:
        rows = [[None] * len(axes) if q is None else q.tolist() for q in points]
        return {k: [r[i] for r in rows] for i, k in enumerate("xyz"[: len(axes)])}

    bones: list[list[np.ndarray | None]] = [[] for _ in PARTS]
    occ_bones: list[np.ndarray | None] = []
    joints: list[list[np.ndarray]] = [[] for _ in PARTS]
    hover: list[list[str]] = [[] for _ in PARTS]
    occ_joints: list[np.ndarray] = []
    occ_hover: list[str] = []
    for m in persons:
        for a, b in layout.edges:
            if shown[m, a] and shown[m, b]:
                bones[parts[a]] += [pts[m, a], pts[m, b], None]
            elif valid[m, a] and valid[m, b]:
                occ_bones += [pts[m, a], pts[m, b], None]
        for v in range(layout.num_joints):
            name = f"{layout.joints[v]} (person {m + 1})" if len(persons) > 1 else layout.joints[v]
            if shown[m, v]:
                joints[parts[v]].append(pts[m, v])
                hover[parts[v]].append(name)
            elif occ[m, v]:
                occ_joints.append(pts[m, v])
                occ_hover.append(f"{name}: occluded")
    kind = "scatter3d" if len(axes) == 3 else "scatter"
    out = [dict(type=kind, **coords(bones[p])) for p in range(len(PARTS))]
    out += [dict(type=kind, text=hover[p], **coords(joints[p])) for p in range(len(PARTS))]
    out.append(dict(type=kind, **coords(occ_bones)))
    out.append(dict(type=kind, text=occ_hover, **coords(occ_joints)))
    if panel.reference is not None:
        ref = (panel.reference[:, t][..., axes] * _draw_signs(signs)).astype(float)
        ok = joint_valid(panel.reference)[:, t]
        lines: list[np.ndarray | None] = []
        for m in range(ref.shape[0]):
            for a, b in layout.edges:
                if ok[m, a] and ok[m, b]:
                    lines += [ref[m, a], ref[m, b], None]
        out.append(dict(type=kind, **coords(lines)))
    return out


def _draw_signs(signs: np.ndarray) -> np.ndarray:
    """Signs applied to the data: 3D ones as given; 2D data keep their values (image y is reversed on the axis)."""
    return signs if len(signs) == 3 else np.ones(2)


def _style(index: int, three_d: bool, legend: bool, scene: str | None) -> dict:
    """Static style of trace number `index` within a panel (colour, marker, legend group)."""
    n = len(PARTS)
    common: dict = dict(hoverinfo="text", showlegend=legend)
    if scene:
        common["scene"] = scene
    if index < n:
        part = PARTS[index]
        return {
            **common,
            "mode": "lines",
            "line": dict(color=PART_COLORS[part], width=5 if three_d else 3),
            "legendgroup": part,
            "showlegend": False,
            "hoverinfo": "skip",
        }
    if index < 2 * n:
        part = PARTS[index - n]
        return {
            **common,
            "mode": "markers",
            "name": PART_LABELS[part],
            "legendgroup": part,
            "marker": dict(color=PART_COLORS[part], size=4 if three_d else 7),
        }
    if index == TRACES_PER_PANEL:
        return {
            **common,
            "mode": "lines",
            "name": "ground truth (projected)",
            "legendgroup": "reference",
            "line": dict(color=REFERENCE_COLOR, width=6 if three_d else 5),
            "hoverinfo": "skip",
        }
    if index == 2 * n:
        return {
            **common,
            "mode": "lines",
            "line": dict(color=OCCLUDED_COLOR, width=2, dash="dot"),
            "legendgroup": "occluded",
            "showlegend": False,
            "hoverinfo": "skip",
        }
    return {
        **common,
        "mode": "markers",
        "name": "occluded / hidden from the model",
        "legendgroup": "occluded",
        "marker": dict(
            color="rgba(0,0,0,0)",
            size=5 if three_d else 8,
            line=dict(color=OCCLUDED_COLOR, width=2),
            symbol="circle-open" if three_d else "circle",
        ),
    }


def _trace(data: dict, style: dict, xaxis: str | None) -> dict:
    """A trace dict from per-frame data and static style (2D traces bound to their subplot's axes)."""
    out = {**data, **style}
    if xaxis:
        out["xaxis"], out["yaxis"] = xaxis, xaxis.replace("x", "y")
    return out


def _ranges(panel: Panel, axes: list[int], signs: np.ndarray) -> list[list[float]]:
    """Fixed axis ranges over all frames (with a margin) so the skeleton does not jump around."""
    clips = [panel.clip] + ([panel.reference] if panel.reference is not None else [])
    pts = np.concatenate([c[joint_valid(c)][:, axes].astype(float) for c in clips]) * _draw_signs(signs)
    if not len(pts):
        return [[-1.0, 1.0]] * len(axes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.08 * max(float((hi - lo).max()), 1e-6)
    return [[float(a - pad), float(b + pad)] for a, b in zip(lo, hi)]


def _animation_controls(n_frames: int, duration_ms: int) -> tuple[list[dict], list[dict]]:
    """Play/pause buttons and a frame slider for `n_frames` frames named '0'..'n-1'."""
    play = dict(
        label="▶ Play",
        method="animate",
        args=[
            None,
            {"frame": {"duration": duration_ms, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}},
        ],
    )
    pause = dict(
        label="❚❚ Pause",
        method="animate",
        args=[[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate", "transition": {"duration": 0}}],
    )
    menus = [
        dict(
            type="buttons",
            direction="left",
            showactive=False,
            x=0.0,
            y=0.0,
            xanchor="left",
            yanchor="top",
            pad=dict(t=40, r=10),
            buttons=[play, pause],
        )
    ]
    steps = [
        dict(
            label=str(k),
            method="animate",
            args=[
                [str(k)],
                {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}},
            ],
        )
        for k in range(n_frames)
    ]
    sliders = [
        dict(
            active=0,
            steps=steps,
            x=0.18,
            len=0.82,
            y=0.0,
            yanchor="top",
            pad=dict(t=30),
            currentvalue=dict(prefix="frame ", visible=True, xanchor="right"),
        )
    ]
    return menus, sliders


def scene_layout(ranges: list[list[float]], unit: str = "") -> dict:
    """A 3D scene with fixed axis ranges (across, depth, up), true proportions and a front camera."""
    span = [r[1] - r[0] for r in ranges]
    big = max(span)
    return dict(
        xaxis=dict(range=ranges[0], title="x" + unit),
        yaxis=dict(range=ranges[1], title="depth" + unit),
        zaxis=dict(range=ranges[2], title="up" + unit),
        aspectmode="manual",
        aspectratio=dict(x=span[0] / big, y=span[1] / big, z=span[2] / big),
        camera=dict(eye=dict(x=0.45, y=-1.75, z=0.45)),
    )


def animate_panels(
    panels: Sequence[Panel], title: str = "", max_frames: int = 60, duration_ms: int = 60, height: int = 480
) -> go.Figure:
    """Animated skeleton panels side by side sharing one play button and frame slider (frames time-aligned)."""
    if not panels:
        raise ValueError("animate_panels needs at least one panel")
    prepared = []
    for panel in panels:
        clip = np.asarray(panel.clip, dtype=np.float32)
        if clip.ndim != 4:
            raise ValueError(f"clip must be (M, T, V, C), got shape {clip.shape}")
        mask = None if panel.occluded_mask is None else np.asarray(panel.occluded_mask, dtype=bool)
        persons, length = _visible_extent(clip)
        ref = None if panel.reference is None else np.asarray(panel.reference, dtype=np.float32)[:, :length]
        p = Panel(
            clip[:, :length], panel.layout, None if mask is None else mask[:, :length], panel.title, ref, panel.unit
        )
        axes, signs = drawing_axes(p.clip, p.layout)
        prepared.append((p, axes, signs, p.layout.dims == 3))
    longest = max(p.clip.shape[1] for p, *_ in prepared)
    n_frames = min(longest, max_frames)
    specs = [[{"type": "scene" if three_d else "xy"} for *_, three_d in prepared]]
    fig = make_subplots(
        rows=1, cols=len(prepared), specs=specs, horizontal_spacing=0.04, subplot_titles=[p.title for p, *_ in prepared]
    )

    def frame_of(panel: Panel, k: int) -> int:
        t_len = panel.clip.shape[1]
        return 0 if n_frames == 1 else int(round(k * (t_len - 1) / (n_frames - 1)))

    names = _scene_and_axis_names(prepared)
    masked = [col for col, (panel, *_) in enumerate(prepared) if panel.occluded_mask is not None]
    styles = [
        [
            _style(
                i,
                three_d,
                legend=(col == 0)
                if i < 2 * len(PARTS)
                else (i == TRACES_PER_PANEL or bool(masked) and col == masked[0]),
                scene=names[col][0],
            )
            for i in range(TRACES_PER_PANEL + (panel.reference is not None))
        ]
        for col, (panel, _, _, three_d) in enumerate(prepared)
    ]

    for col, (panel, axes, signs, _) in enumerate(prepared):
        for i, data in enumerate(_frame_traces(panel, frame_of(panel, 0), axes, signs)):
            fig.add_trace(_trace(data, styles[col][i], names[col][1]))
    fig.frames = [
        dict(
            name=str(k),
            data=[
                d for panel, axes, signs, _ in prepared for d in _frame_traces(panel, frame_of(panel, k), axes, signs)
            ],
        )
        for k in range(n_frames)
    ]
    for col, (panel, axes, signs, three_d) in enumerate(prepared):
        ranges = _ranges(panel, axes, signs)
        unit = f" ({panel.unit})" if panel.unit else ""
        if three_d:
            fig.update_layout({names[col][0]: scene_layout(ranges, unit)})
        else:
            y_range = ranges[1][::-1] if signs[1] < 0 else ranges[1]
            fig.update_xaxes(range=ranges[0], row=1, col=col + 1, showgrid=False, zeroline=False, title_text="x" + unit)
            fig.update_yaxes(
                range=y_range,
                row=1,
                col=col + 1,
                showgrid=False,
                zeroline=False,
                title_text="y" + unit,
                scaleanchor=names[col][1],
                scaleratio=1,
            )
    menus, sliders = _animation_controls(n_frames, duration_ms)
    fig.update_layout(
        title=title or None,
        height=height,
        updatemenus=menus,
        sliders=sliders,
        legend=dict(orientation="h", y=0.97, yanchor="top", x=0.0, yref="container"),
        margin=dict(l=10, r=10, t=110, b=80),
    )
    return fig


def _scene_and_axis_names(prepared: list) -> list[tuple[str | None, str | None]]:
    """Per panel: the scene id for 3D panels ('scene', 'scene2', ...) or the x axis id for 2D ones."""
    out: list[tuple[str | None, str | None]] = []
    scenes = axes = 0
    for *_, three_d in prepared:
        if three_d:
            scenes += 1
            out.append((f"scene{scenes if scenes > 1 else ''}", None))
        else:
            axes += 1
            out.append((None, f"x{axes if axes > 1 else ''}"))
    return out


def skeleton_animation(
    clip: np.ndarray, layout: Layout, occluded_mask: np.ndarray | None = None, title: str = "", max_frames: int = 60
) -> go.Figure:
    """Animated skeleton of one clip (M, T, V, C): 3D for 3D layouts, 2D otherwise; occluded joints hollow grey."""
    return animate_panels([Panel(clip, layout, occluded_mask, "")], title=title, max_frames=max_frames)


def side_by_side(
    high: np.ndarray,
    high_layout: Layout,
    low: np.ndarray,
    low_layout: Layout,
    low_mask: np.ndarray | None = None,
    titles: tuple[str, str] = ("high quality", "low quality"),
    title: str = "",
    max_frames: int = 60,
    low_reference: np.ndarray | None = None,
    units: tuple[str, str] = ("", ""),
) -> go.Figure:
    """High- and low-quality versions of one action instance, animated together on one slider; `low_reference`
    (same layout as `low`) is drawn faintly beneath the low-quality skeleton; `units` name each panel's axes."""
    three_d = high_layout.dims == 3 or low_layout.dims == 3
    return animate_panels(
        [
            Panel(high, high_layout, None, titles[0], unit=units[0]),
            Panel(low, low_layout, low_mask, titles[1], low_reference, units[1]),
        ],
        title=title,
        max_frames=max_frames,
        height=620 if three_d else 520,
    )


def modality_magnitude(values: np.ndarray, layout: Layout) -> np.ndarray:
    """(T, V) length of a derived modality's coordinate vector (person 0 of a (M, T, V, C) clip); NaN where the value
    is missing (all-zero), so a missing bone or motion shows as a gap rather than as zero."""
    v = np.asarray(values, dtype=float)[0]
    d = 3 if layout.dims == 3 else 2
    norm = np.linalg.norm(v[..., :d], axis=-1)
    return np.where(np.any(v != 0, axis=-1), norm, np.nan)


def modality_heatmaps(panels: Sequence[tuple[str, np.ndarray, Layout]], label: str) -> go.Figure:
    """Frames × joints heatmaps of a derived modality's magnitude (modality_magnitude), one per (title, clip (M, T,
    V, C) of that modality, layout); gaps are missing values."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _, _ in panels], horizontal_spacing=0.12)
    for i, (_, values, layout) in enumerate(panels, start=1):
        z = modality_magnitude(values, layout)
        fig.add_trace(
            go.Heatmap(
                z=z.T,
                y=list(layout.joints),
                colorscale="Viridis",
                coloraxis="coloraxis" if i == 1 else f"coloraxis{i}",
                hovertemplate="frame %{x}<br>joint %{y}<br>" + label + " %{z:.3f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_xaxes(title_text="frame", row=1, col=i)
        fig.update_yaxes(type="category", autorange="reversed", row=1, col=i)
    width = (1 - 0.12 * (len(panels) - 1)) / len(panels)
    axes = {
        ("coloraxis" if i == 1 else f"coloraxis{i}"): dict(
            colorscale="Viridis",
            colorbar=dict(
                title=dict(text=label, side="top"),
                orientation="h",
                x=(i - 1) * (width + 0.12) + width / 2,
                xanchor="center",
                y=-0.16,
                yanchor="top",
                len=0.8 * width,
                thickness=12,
            ),
        )
        for i in range(1, len(panels) + 1)
    }
    fig.update_layout(height=500, margin=dict(l=10, r=10, t=60, b=100), **axes)
    return fig


def efficiency_heatmap(
    E: np.ndarray,
    class_names: Sequence[str],
    normalized: bool = False,
    sort_by: int | str | None = None,
    label: str = "",
    unit_range: bool = False,
    interval: tuple[np.ndarray, np.ndarray] | None = None,
    uncertain: np.ndarray | None = None,
    none_needed: np.ndarray | None = None,
) -> go.Figure:
    """Classes × 5 parts heatmap of a matrix E (raw, signed or softmax-normalised), optionally sorted by a part.
    `unit_range` fixes the colour scale to 0..1 (a rate). With `interval` (lo, hi) the hover shows each cell's 95 %
    interval; cells flagged `uncertain` are drawn faded, and rows flagged `none_needed` are covered by "no single
    part is needed"."""
    e = np.asarray(E, dtype=float)
    if e.ndim != 2 or e.shape != (len(class_names), len(PARTS)):
        raise ValueError(f"E must be ({len(class_names)}, {len(PARTS)}), got {e.shape}")
    order = np.arange(len(class_names))
    if sort_by is not None:
        p = PARTS.index(sort_by) if isinstance(sort_by, str) else int(sort_by)
        order = np.argsort(-e[:, p], kind="stable")
    label = label or ("softmax weight" if normalized else "miss rate")
    signed = not normalized and bool((e < 0).any())
    x = [PART_LABELS[p] for p in PARTS]
    y = [str(class_names[int(i)]) for i in order]
    hover = "class %{y}<br>part %{x}<br>" + label + " %{z:.3f}"
    custom = None
    if interval is not None:
        lo, hi = (np.asarray(a, dtype=float)[order] for a in interval)
        custom = np.stack([lo, hi], axis=-1)
        hover += "<br>95% interval [%{customdata[0]:.3f}, %{customdata[1]:.3f}]"
    span = float(np.abs(e).max()) if e.size else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=e[order],
            x=x,
            y=y,
            customdata=custom,
            colorscale="RdBu_r" if signed else ("Blues" if normalized else "Reds"),
            zmin=-span if signed else (None if normalized else 0.0),
            zmax=span if signed else (1.0 if unit_range or label.startswith("miss rate") else None),
            texttemplate="%{z:.2f}",
            colorbar=dict(title=dict(text=label, side="right"), len=0.85),
            hovertemplate=hover + "<extra></extra>",
        )
    )
    if uncertain is not None:
        veil = np.where(np.asarray(uncertain, dtype=bool)[order], 1.0, np.nan)
        fig.add_trace(
            go.Heatmap(
                z=veil,
                x=x,
                y=y,
                colorscale=[[0, "rgba(255,255,255,0.62)"], [1, "rgba(255,255,255,0.62)"]],
                showscale=False,
                hoverinfo="skip",
            )
        )
    if none_needed is not None:
        for row, flag in zip(y, np.asarray(none_needed, dtype=bool)[order]):
            if flag:
                fig.add_annotation(
                    x=2, y=row, text="<b>no single part is needed</b>", showarrow=False, bgcolor="rgba(255,255,255,0.9)"
                )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category")
    fig.update_layout(
        height=max(340, 28 * len(class_names) + 180),
        margin=dict(l=10, r=10, t=120, b=10),
        title=dict(
            text=(
                "Part-efficiency matrix E (softmax over parts, eq. 13)"
                if normalized
                else f"Part-efficiency matrix E: {label}"
            ),
            y=1.0,
            yref="container",
            yanchor="top",
            pad=dict(t=14),
            font=dict(size=16),
        ),
    )
    return fig


def explanation_strips(result: Mapping, methods: Sequence[str] | None = None) -> go.Figure:
    """One parts × time-window heatmap per explanation method (engine.explain.explain_dataset_clip's result)."""
    names = list(methods or result["methods"])
    fig = make_subplots(
        rows=1,
        cols=len(names),
        horizontal_spacing=0.08,
        subplot_titles=[f"{n} (deletion AUC {result['methods'][n]['auc']:.3f})" for n in names],
    )
    ticks = [f"{a}–{b - 1}" for a, b in result["windows"]]
    for i, name in enumerate(names):
        parts = np.asarray(result["methods"][name]["parts"], dtype=float).T  # (5, W)
        span = max(float(np.abs(parts).max()), 1e-9)
        fig.add_trace(
            go.Heatmap(
                z=parts,
                x=ticks,
                y=[PART_LABELS[p] for p in PARTS],
                colorscale="RdBu_r",
                zmin=-span,
                zmax=span,
                showscale=False,
                hovertemplate=name + "<br>%{y}, frames %{x}<br>importance %{z:.4f}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
        fig.update_xaxes(title_text="input frames", row=1, col=i + 1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def deletion_figure(result: Mapping) -> go.Figure:
    """Each method's deletion curve (true-class probability as cells are zeroed in its order) and random order."""
    fig = go.Figure()
    for name, m in result["methods"].items():
        curve = np.asarray(m["deletion"], dtype=float)
        fig.add_trace(
            go.Scatter(
                x=np.linspace(0, 100, len(curve)),
                y=curve,
                mode="lines+markers",
                name=f"{name} (AUC {m['auc']:.3f})",
            )
        )
    fig.add_hline(
        y=result["random_auc"],
        line_dash="dash",
        line_color="#777777",
        annotation_text=f"random order: mean AUC {result['random_auc']:.3f}",
    )
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title="cells zeroed, most important first (%)",
        yaxis_title=f"p({result['true']})",
        yaxis_range=[0, 1.02],
        title="Deletion curves (lower = more faithful)",
    )
    return fig


def importance_animation(
    clip: np.ndarray, layout: Layout, joint_map: np.ndarray, windows: Sequence[tuple[int, int]], title: str = ""
) -> go.Figure:
    """Animated skeleton of a model input clip (M, T, V, C) whose joints are sized and coloured by their importance
    (joint_map (W, V), one row per window of input frames); negative importance is drawn as zero."""
    clip = np.asarray(clip, dtype=float)
    imp = np.clip(np.asarray(joint_map, dtype=float), 0, None)
    top = max(float(imp.max()), 1e-12)
    per_frame = np.zeros((clip.shape[1], layout.num_joints))
    for w, (a, b) in enumerate(windows):
        per_frame[a:b] = imp[w] / top
    persons, length = _visible_extent(clip)
    axes, signs = drawing_axes(clip[:, :length], layout)
    three_d = len(axes) == 3
    pts = clip[..., axes] * _draw_signs(signs)
    valid = joint_valid(clip)
    kind = "scatter3d" if three_d else "scatter"

    def traces(t: int) -> list[dict]:
        cols: list[list[float | None]] = [[] for _ in axes]
        jx: list[list[float]] = [[] for _ in axes]
        size, color, text = [], [], []
        for m in persons:
            for a, b in layout.edges:
                if valid[m, t, a] and valid[m, t, b]:
                    for k in range(len(axes)):
                        cols[k] += [pts[m, t, a, k], pts[m, t, b, k], None]
            for v in np.flatnonzero(valid[m, t]):
                for k in range(len(axes)):
                    jx[k].append(float(pts[m, t, v, k]))
                size.append(5 + 22 * per_frame[t, v])
                color.append(float(per_frame[t, v]))
                text.append(f"{layout.joints[v]}: {per_frame[t, v]:.2f} of the clip's largest")
        line: dict[str, Any] = dict(
            type=kind, mode="lines", line=dict(color="#9e9e9e", width=4 if three_d else 3), hoverinfo="skip"
        )
        dots: dict[str, Any] = dict(
            type=kind,
            mode="markers",
            text=text,
            hoverinfo="text",
            marker=dict(size=size, color=color, colorscale="Reds", cmin=0, cmax=1, showscale=True),
        )
        line.update(zip("xyz", cols))
        dots.update(zip("xyz", jx))
        return [line, dots]

    n = min(length, 60)
    picks = np.linspace(0, length - 1, n).round().astype(int)
    fig = go.Figure(data=traces(int(picks[0])))
    fig.frames = [go.Frame(name=str(k), data=traces(int(t))) for k, t in enumerate(picks)]
    ranges = _ranges(Panel(clip[:, :length], layout), axes, signs)
    if three_d:
        fig.update_layout(scene=scene_layout(ranges, " (body sizes)"))
    else:
        fig.update_xaxes(range=ranges[0], title="x (body sizes)")
        fig.update_yaxes(range=ranges[1][::-1] if signs[1] < 0 else ranges[1], title="y (body sizes)", scaleanchor="x")
    menus, sliders = _animation_controls(n, 80)
    fig.update_layout(
        title=title or None,
        height=520,
        showlegend=False,
        updatemenus=menus,
        sliders=sliders,
        margin=dict(l=10, r=10, t=50, b=90),
    )
    return fig


def part_bars(
    values: np.ndarray | Mapping[str, np.ndarray], title: str = "", ylabel: str = "", percent: bool = False
) -> go.Figure:
    """Bars over the five parts: one series (coloured by part) or several named series (grouped)."""
    series = {"": values} if not isinstance(values, Mapping) else dict(values)
    x = [PART_LABELS[p] for p in PARTS]
    fig = go.Figure()
    fmt = "%{y:.1%}" if percent else "%{y:.3f}"
    for name, vals in series.items():
        v = np.asarray(vals, dtype=float).reshape(-1)
        if v.shape != (len(PARTS),):
            raise ValueError(f"part values must have {len(PARTS)} entries, got {v.shape}")
        marker = dict(color=[PART_COLORS[p] for p in PARTS]) if len(series) == 1 else {}
        fig.add_trace(
            go.Bar(
                x=x,
                y=v,
                name=name or None,
                marker=marker,
                texttemplate=fmt,
                textposition="outside",
                hovertemplate="%{x}: " + fmt + "<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(
        title=title or None,
        barmode="group",
        yaxis_title=ylabel,
        showlegend=len(series) > 1,
        height=360,
        margin=dict(l=10, r=10, t=50 if title else 20, b=10),
    )
    if percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


def topk_bars(probs: np.ndarray, class_names: Sequence[str], true_label: int, k: int = 5, title: str = "") -> go.Figure:
    """Top-k predicted classes with probabilities; the true class green, a wrong top-1 red, the verdict in the title."""
    p = np.asarray(probs, dtype=float).reshape(-1)
    k = min(k, p.size)
    top = np.argsort(-p, kind="stable")[:k]
    correct = int(top[0]) == int(true_label)
    colors = [CORRECT_COLOR if c == true_label else (WRONG_COLOR if i == 0 else OTHER_COLOR) for i, c in enumerate(top)]
    labels = [("✓ " if c == true_label else ("✗ " if i == 0 else "")) + str(class_names[c]) for i, c in enumerate(top)]
    verdict = "✓ correct" if correct else f"✗ wrong (true: {class_names[true_label]})"
    fig = go.Figure(
        go.Bar(
            x=p[top],
            y=labels,
            orientation="h",
            marker=dict(color=colors),
            texttemplate="%{x:.1%}",
            textposition="auto",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_layout(
        title=dict(
            text=f"{title}<br><span style='color:{CORRECT_COLOR if correct else WRONG_COLOR}'>{verdict}</span>"
            if title
            else verdict
        ),
        height=300,
        margin=dict(l=10, r=10, t=70, b=10),
        showlegend=False,
    )
    return fig


#: How the accuracy chart names the teacher's curve: it is measured on occluded high-quality input, not on the
#: students' low-quality input.
TEACHER_CURVE = "{name}, on occluded high-quality input"


def accuracy_vs_op_figure(
    curves: Mapping[str, Sequence[Mapping[str, float]]], metric: str = "top1", teacher: str | None = None
) -> go.Figure:
    """Top-1 accuracy against occlusion probability, one line per model (points: dicts with 'op' and `metric`); the
    `teacher` curve is dashed and named for its input (TEACHER_CURVE)."""
    fig = go.Figure()
    for name, points in curves.items():
        pts = sorted(points, key=lambda d: d["op"])
        shown = TEACHER_CURVE.format(name=name) if name == teacher else name
        fig.add_trace(
            go.Scatter(
                x=[d["op"] for d in pts],
                y=[d[metric] for d in pts],
                mode="lines+markers",
                name=shown,
                line=dict(dash="dash") if name == teacher else None,
                hovertemplate="OP %{x:.1f}: %{y:.1%}<extra>" + shown + "</extra>",
            )
        )
    fig.update_layout(
        xaxis_title="occlusion probability (OP)",
        yaxis_title=f"{metric} accuracy",
        height=420,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.1),
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(range=[-0.03, 0.93], dtick=0.1)
    return fig


def history_figure(history: Sequence[Mapping[str, float]]) -> go.Figure:
    """Training curves per epoch: loss on the left, train/validation accuracy on the right."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    epochs = [h.get("epoch") for h in history]
    for key, col, name in (("loss", 1, "loss"), ("train_acc", 2, "train"), ("val_acc", 2, "validation")):
        ys = [h.get(key) for h in history]
        if any(y is not None and not (isinstance(y, float) and math.isnan(y)) for y in ys):
            fig.add_trace(go.Scatter(x=epochs, y=ys, mode="lines+markers", name=name), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig
