"""Plotly charts: the part-efficiency matrix E, a derived modality's heatmaps, per-clip explanations, per-part
bars, top-k predictions, accuracy against occlusion and training curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative as px_colours
from plotly.subplots import make_subplots

from partkd.drawing import (
    CORRECT_COLOR,
    OTHER_COLOR,
    PART_COLORS,
    PART_LABELS,
    WRONG_COLOR,
    history_series,
    modality_magnitude,
)
from partkd.layouts import PARTS, Layout
from partkd.stats import wilson_interval


def modality_heatmaps(
    panels: Sequence[tuple[str, np.ndarray, Layout]], label: str, units: Sequence[str] = ()
) -> go.Figure:
    """Frames × joints heatmaps of a derived modality's magnitude (modality_magnitude), one per (title, clip (M, T,
    V, C) of that modality, layout), every joint named; gaps are missing values; `units` name each colour bar's
    unit (drawing.modality_unit)."""
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[t for t, _, _ in panels], horizontal_spacing=0.12)
    titles = [label + (f" ({units[i]})" if i < len(units) else "") for i in range(len(panels))]
    for i, (_, values, layout) in enumerate(panels, start=1):
        z = modality_magnitude(values, layout)
        joints = list(layout.joints)
        fig.add_trace(
            go.Heatmap(
                z=z.T,
                y=joints,
                colorscale="Viridis",
                coloraxis="coloraxis" if i == 1 else f"coloraxis{i}",
                hovertemplate="frame %{x}<br>joint %{y}<br>" + titles[i - 1] + " %{z:.3f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        fig.update_xaxes(title_text="frame", row=1, col=i)
        fig.update_yaxes(
            type="category",
            autorange="reversed",
            tickmode="array",
            tickvals=joints,
            ticktext=joints,
            tickfont=dict(size=10),
            row=1,
            col=i,
        )
    width = (1 - 0.12 * (len(panels) - 1)) / len(panels)
    axes = {
        ("coloraxis" if i == 1 else f"coloraxis{i}"): dict(
            colorscale="Viridis",
            colorbar=dict(
                title=dict(text=titles[i - 1], side="top"),
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
    most = max(layout.num_joints for _, _, layout in panels)
    fig.update_layout(height=max(500, 16 * most + 200), margin=dict(l=10, r=10, t=60, b=100), **axes)
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
    gap = 0.08
    width = (1 - gap * (len(names) - 1)) / len(names)
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
                colorbar=dict(
                    title=dict(text=f"{name} importance", side="top"),
                    orientation="h",
                    x=i * (width + gap) + width / 2,
                    xanchor="center",
                    y=-0.45,
                    yanchor="top",
                    len=0.8 * width,
                    thickness=10,
                    tickformat=".2g",
                ),
                hovertemplate=name + "<br>%{y}, frames %{x}<br>importance %{z:.4f}<extra></extra>",
            ),
            row=1,
            col=i + 1,
        )
        fig.update_xaxes(title_text="input frames", row=1, col=i + 1)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=400, margin=dict(l=10, r=10, t=50, b=110))
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
                textangle=0,
                cliponaxis=False,
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
            textposition="outside",
            textangle=0,
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(range=[0, 1.18], tickvals=[0, 0.25, 0.5, 0.75, 1], tickformat=".0%")
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
    curves: Mapping[str, Sequence[Mapping[str, float]]],
    metric: str = "top1",
    teacher: str | None = None,
    trained_op: Mapping[str, float] | None = None,
) -> go.Figure:
    """Accuracy against occlusion probability, one line per model (points: dicts with 'op', `metric` and, for the
    95 % Wilson interval drawn as error bars, 'n'); the `teacher` curve is dashed and named for its input
    (TEACHER_CURVE); a star marks the OP each model of `trained_op` was trained at."""
    fig = go.Figure()
    for k, (name, points) in enumerate(curves.items()):
        pts = sorted(points, key=lambda d: d["op"])
        shown = TEACHER_CURVE.format(name=name) if name == teacher else name
        colour = px_colours.Plotly[k % len(px_colours.Plotly)]
        ys = [d[metric] for d in pts]
        bounds = [wilson_interval(d[metric], int(d["n"])) if "n" in d else (d[metric], d[metric]) for d in pts]
        fig.add_trace(
            go.Scatter(
                x=[d["op"] for d in pts],
                y=ys,
                mode="lines+markers",
                name=shown,
                legendgroup=shown,
                line=dict(color=colour, dash="dash" if name == teacher else None),
                error_y=dict(
                    type="data",
                    symmetric=False,
                    array=[hi - y for y, (_, hi) in zip(ys, bounds)],
                    arrayminus=[y - lo for y, (lo, _) in zip(ys, bounds)],
                    thickness=1,
                    width=3,
                ),
                hovertemplate="OP %{x:.1f}: %{y:.1%}<extra>" + shown + "</extra>",
            )
        )
        at = (trained_op or {}).get(name)
        if at is not None and pts:
            nearest = min(pts, key=lambda d: abs(d["op"] - at))
            fig.add_trace(
                go.Scatter(
                    x=[at],
                    y=[nearest[metric]],
                    mode="markers",
                    marker=dict(symbol="star", size=15, color=colour, line=dict(color="black", width=1)),
                    name=f"{shown}: trained at OP {at:g}",
                    legendgroup=shown,
                    showlegend=False,
                    hovertemplate=f"trained at OP {at:g}<extra>{shown}</extra>",
                )
            )
    fig.update_layout(
        xaxis_title="occlusion probability (OP)",
        yaxis_title=f"{metric} accuracy (bars: 95 % interval)",
        height=420,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.1),
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(range=[-0.03, 0.93], dtick=0.1)
    return fig


def history_figure(history: Sequence[Mapping[str, float | None]]) -> go.Figure:
    """Training curves per epoch (drawing.history_series): loss on the left, train/validation accuracy on the right;
    an epoch without a value is a gap."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    for s in history_series(history):
        col = 1 if s.panel == "loss" else 2
        fig.add_trace(go.Scatter(x=s.epochs, y=s.values, mode="lines+markers", name=s.name), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))
    return fig
