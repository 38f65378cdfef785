"""Plotly figures of the video page: a frame with the estimated skeleton over it, and the timeline of the student's
top classes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from partkd.drawing import OCCLUDED_COLOR, PART_COLORS, WRONG_COLOR
from partkd.layouts import PARTS, Layout


def frame_figure(
    image: np.ndarray, estimated: np.ndarray, seen: np.ndarray, guess: np.ndarray, layout: Layout, title: str = ""
) -> go.Figure:
    """The (H, W, 3) frame with the skeleton in its pixels: joints the student reads (filled, by part, bones between
    them), joints the estimator found but occlusion hid (hollow grey), joints it did not find (red ×, at its guess);
    estimated and seen are (V, 3) of (x, y, confidence), guess (V, 2)."""
    found = estimated[:, 2] > 0
    kept = seen[:, 2] > 0
    hidden = found & ~kept
    fig = go.Figure(go.Image(z=image, hoverinfo="skip"))
    xs: list[float | None] = []
    ys: list[float | None] = []
    for a, b in layout.edges:
        if kept[a] and kept[b]:
            xs += [float(seen[a, 0]), float(seen[b, 0]), None]
            ys += [float(seen[a, 1]), float(seen[b, 1]), None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color="white", width=3), name="bones"))
    parts = np.asarray(layout.parts)
    colours = [PART_COLORS[PARTS[p]] for p in parts]
    names = list(layout.joints)
    for mask, label, marker in (
        (kept, "read by the student", dict(size=9, color=[colours[i] for i in np.flatnonzero(kept)])),
        (hidden, "hidden by occlusion", dict(size=9, color="rgba(0,0,0,0)", line=dict(color=OCCLUDED_COLOR, width=2))),
    ):
        idx = np.flatnonzero(mask)
        fig.add_trace(
            go.Scatter(
                x=estimated[idx, 0],
                y=estimated[idx, 1],
                mode="markers",
                marker=marker,
                name=label,
                text=[f"{names[i]} (confidence {estimated[i, 2]:.2f})" for i in idx],
                hoverinfo="text",
            )
        )
    lost = np.flatnonzero(~found)
    fig.add_trace(
        go.Scatter(
            x=guess[lost, 0],
            y=guess[lost, 1],
            mode="markers",
            marker=dict(symbol="x", size=9, color=WRONG_COLOR),
            name="not found by the estimator",
            text=[names[i] for i in lost],
            hoverinfo="text",
        )
    )
    h, w = image.shape[:2]
    fig.update_xaxes(range=[0, w], visible=False)
    fig.update_yaxes(range=[h, 0], visible=False, scaleanchor="x")
    fig.update_layout(
        title=title,
        margin=dict(l=0, r=0, t=40 if title else 0, b=0),
        legend=dict(orientation="h", y=-0.02, yanchor="top"),
        height=max(300, min(560, int(560 * h / max(w, 1)) + 80)),
    )
    return fig


def timeline_figure(rows: Sequence[Mapping[str, Any]], k: int = 3, at_s: float | None = None) -> go.Figure:
    """Probability over time (window centres) of every class that is in some window's top-k; a dashed line at
    `at_s` (the frame shown)."""
    classes: list[str] = []
    for r in rows:
        classes += [c for c, _ in r["top5"][:k] if c not in classes]
    t = [(r["start_s"] + r["end_s"]) / 2 for r in rows]
    fig = go.Figure()
    for c in classes:
        p = [next((q for name, q in r["top5"] if name == c), None) for r in rows]
        fig.add_trace(go.Scatter(x=t, y=p, mode="lines+markers", name=c.replace("_", " "), connectgaps=False))
    if at_s is not None:
        fig.add_vline(x=at_s, line_dash="dash", line_color="#555")
    fig.update_layout(
        xaxis_title="time (s, window centre)",
        yaxis=dict(title="probability", range=[0, 1.02]),
        margin=dict(l=10, r=10, t=10, b=10),
        height=260,
        legend=dict(orientation="h", y=1.02, yanchor="bottom"),
    )
    return fig


__all__ = ["frame_figure", "timeline_figure"]
