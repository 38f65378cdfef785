"""Plotly skeleton animations: one or more clips side by side on one play button and frame slider (occluded joints
hollow grey, an optional reference skeleton beneath), and a clip whose joints are sized by their importance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from partkd.data.transforms import present
from partkd.drawing import (
    OCCLUDED_COLOR,
    PART_COLORS,
    PART_LABELS,
    REFERENCE_COLOR,
    drawing_axes,
    visible_extent,
)
from partkd.layouts import PARTS, Layout

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


def _frame_traces(panel: Panel, t: int, axes: list[int], signs: np.ndarray) -> list[dict]:
    """The panel's TRACES_PER_PANEL trace dicts at frame t: bones and joints per part, then occluded ones."""
    clip, layout = panel.clip, panel.layout
    persons, _ = visible_extent(clip)
    valid = present(clip)[:, t]
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
        ok = present(panel.reference)[:, t]
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


def _ranges(panel: Panel, axes: list[int], signs: np.ndarray, margin: float = 0.08) -> list[list[float]]:
    """Fixed axis ranges over all frames (with a margin of `margin` times the largest extent) so the skeleton does
    not jump around."""
    clips = [panel.clip] + ([panel.reference] if panel.reference is not None else [])
    pts = np.concatenate([c[present(c)][:, axes].astype(float) for c in clips]) * _draw_signs(signs)
    if not len(pts):
        return [[-1.0, 1.0]] * len(axes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = margin * max(float((hi - lo).max()), 1e-6)
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


#: Ticks per 3D axis at most (more overlap where the view foreshortens an axis); the depth axis, seen end-on, fewer.
SCENE_TICKS = {"xaxis": 4, "yaxis": 3, "zaxis": 4}
#: The front camera of a skeleton panel: far enough, and aimed low enough, for the whole box and the tick labels under
#: it to stay in view; the explanation figure, one panel with no legend above, comes closer.
CAMERA = {"eye": {"x": 0.5, "y": -2.0, "z": 0.5}, "center": {"x": 0.0, "y": 0.0, "z": -0.2}}
CLOSE_CAMERA = {"eye": {"x": 0.4, "y": -1.6, "z": 0.4}, "center": {"x": 0.0, "y": 0.0, "z": -0.1}}


def scene_layout(ranges: list[list[float]], unit: str = "", camera: dict = CAMERA) -> dict:
    """A 3D scene with fixed axis ranges (across, depth, up), true proportions, few ticks and a front camera."""
    span = [r[1] - r[0] for r in ranges]
    big = max(span)
    titles = {"xaxis": "x", "yaxis": "depth", "zaxis": "up"}
    axes = {
        k: dict(range=r, title=titles[k] + unit, nticks=SCENE_TICKS[k], tickfont=dict(size=10))
        for k, r in zip(titles, ranges)
    }
    return dict(
        **axes,
        aspectmode="manual",
        aspectratio=dict(x=span[0] / big, y=span[1] / big, z=span[2] / big),
        camera=camera,
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
        persons, length = visible_extent(clip)
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
    persons, length = visible_extent(clip)
    axes, signs = drawing_axes(clip[:, :length], layout)
    three_d = len(axes) == 3
    pts = clip[..., axes] * _draw_signs(signs)
    valid = present(clip)
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
            marker=dict(
                size=size,
                color=color,
                colorscale="Reds",
                cmin=0,
                cmax=1,
                showscale=True,
                line=dict(color=OCCLUDED_COLOR, width=1),  # an unimportant joint stays visible on white
            ),
        )
        line.update(zip("xyz", cols))
        dots.update(zip("xyz", jx))
        return [line, dots]

    n = min(length, 60)
    picks = np.linspace(0, length - 1, n).round().astype(int)
    fig = go.Figure(data=traces(int(picks[0])))
    fig.frames = [go.Frame(name=str(k), data=traces(int(t))) for k, t in enumerate(picks)]
    ranges = _ranges(Panel(clip[:, :length], layout), axes, signs, IMPORTANCE_MARGIN)
    if three_d:
        fig.update_layout(scene=scene_layout(ranges, " (body sizes)", CLOSE_CAMERA))
    else:
        fig.update_xaxes(range=ranges[0], title="x (body sizes)", constrain="domain")
        fig.update_yaxes(
            range=ranges[1][::-1] if signs[1] < 0 else ranges[1], title="y (body sizes)", scaleanchor="x", scaleratio=1
        )
    menus, sliders = _animation_controls(n, 80)
    fig.update_layout(
        title=title or None,
        height=IMPORTANCE_HEIGHT,
        width=importance_width(ranges, three_d),
        showlegend=False,
        updatemenus=menus,
        sliders=sliders,
        margin=dict(l=10, r=10, t=50, b=90),
    )
    return fig


#: The explanation skeleton's height, its margin around the joints (of the largest extent: room for the largest
#: markers) and its width limits in pixels.
IMPORTANCE_HEIGHT = 520
IMPORTANCE_MARGIN = 0.15
IMPORTANCE_WIDTH = (460, 760)


def importance_width(ranges: list[list[float]], three_d: bool) -> int:
    """The explanation figure's width that fits the skeleton: its 2D extent's aspect at the plot's height (a 3D box
    gets the widest), plus the colour bar, within IMPORTANCE_WIDTH."""
    lo, hi = IMPORTANCE_WIDTH
    if three_d:
        return hi
    plot_height = IMPORTANCE_HEIGHT - 140  # less the title and the slider
    aspect = (ranges[0][1] - ranges[0][0]) / max(ranges[1][1] - ranges[1][0], 1e-9)
    return int(min(max(plot_height * aspect + 160, lo), hi))
