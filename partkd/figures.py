"""Static figures with matplotlib's object API (no pyplot: no global state, no display), shared by the app's
downloads and `partkd report`: the E heatmap (paper Fig. 5), the clip grid (Figs. 6-7), accuracy vs OP, per-part
sensitivity, and Table 1 as Markdown, CSV and LaTeX."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from partkd.data.transforms import present
from partkd.drawing import (
    CORRECT_COLOR,
    OCCLUDED_COLOR,
    PART_COLORS,
    PART_LABELS,
    WRONG_COLOR,
    drawing_axes,
    history_series,
    modality_magnitude,
)
from partkd.io import atomic_write_bytes
from partkd.layouts import PARTS, Layout
from partkd.paper import TABLE_OPS

IMAGE_FORMATS: tuple[str, ...] = ("png", "pdf", "svg")
DPI = 200
#: Figures drawn on a page (not downloaded): a 12-inch figure is still wider than the app's main column.
SCREEN_DPI = 120


def figure_bytes(fig: Figure, fmt: str, dpi: int = DPI) -> bytes:
    """The figure encoded as png (`dpi` dots per inch), pdf or svg."""
    if fmt not in IMAGE_FORMATS:
        raise ValueError(f"unknown image format '{fmt}' (use {', '.join(IMAGE_FORMATS)})")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight", metadata=None if fmt == "png" else {})
    return buf.getvalue()


def save_figure(fig: Figure, stem: Path | str, formats: Sequence[str] = IMAGE_FORMATS) -> list[Path]:
    """Write the figure as stem.png / .pdf / .svg (each atomically) and return the paths."""
    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        atomic_write_bytes(path, figure_bytes(fig, fmt))
        paths.append(path)
    return paths


def caption(fig: Figure, text: str) -> Figure:
    """Print the provenance (data, preset, checkpoints) under the figure."""
    fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=7, color="#555555", wrap=True)
    return fig


def efficiency_figure(
    E: np.ndarray,
    class_names: Sequence[str],
    title: str = "",
    normalized: bool = False,
    source: str = "",
    label: str = "miss rate",
) -> Figure:
    """Classes x 5 parts heatmap of E with each cell's value (paper Fig. 5); `label` names the definition (a
    signed one, such as the Shapley value, gets a diverging scale around 0)."""
    e = np.asarray(E, dtype=float)
    if e.shape != (len(class_names), len(PARTS)):
        raise ValueError(f"E must be ({len(class_names)}, {len(PARTS)}), got {e.shape}")
    fig = Figure(figsize=(6.0, 0.34 * len(class_names) + 1.6))
    ax = fig.subplots()
    signed = not normalized and bool((e < 0).any())
    span = float(np.abs(e).max()) if e.size else 1.0
    image = ax.imshow(
        e,
        cmap="Blues" if normalized else ("RdBu_r" if signed else "Reds"),
        vmin=None if normalized else (-span if signed else 0.0),
        vmax=None if normalized else (span if signed else (1.0 if label.startswith("miss rate") else None)),
        aspect="auto",
    )
    ax.set_xticks(range(len(PARTS)), [PART_LABELS[p] for p in PARTS])
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(class_names)), [str(c) for c in class_names])
    high = np.nanmax(e) if e.size else 1.0
    for (i, j), v in np.ndenumerate(e):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 * high else "black")
    fig.colorbar(image, ax=ax, label="softmax weight" if normalized else label, fraction=0.05)
    ax.set_title(
        title
        or ("Part-efficiency matrix E (softmax, eq. 13)" if normalized else f"Part-efficiency matrix E ({label})"),
        pad=24,
        fontsize=10,
    )
    return caption(fig, source) if source else fig


def modality_figure(
    panels: Sequence[tuple[str, np.ndarray, Layout]],
    label: str,
    title: str = "",
    source: str = "",
    units: Sequence[str] = (),
) -> Figure:
    """Frames x joints heatmaps of a derived modality's magnitude, one per (title, clip, layout); missing values
    are left blank (viz.modality_magnitude); `units` name each panel's colour bar unit."""
    fig = Figure(figsize=(4.2 * len(panels), 4.4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for i, (ax, (name, values, layout)) in enumerate(zip(axes, panels)):
        image = ax.imshow(modality_magnitude(values, layout).T, aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_yticks(range(layout.num_joints), list(layout.joints), fontsize=5)
        ax.set_xlabel("frame")
        ax.set_title(name, fontsize=8)
        unit = f" ({units[i]})" if i < len(units) else ""
        fig.colorbar(image, ax=ax, label=label + unit, fraction=0.05)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return caption(fig, source) if source else fig


def accuracy_figure(curves: Mapping[str, Sequence[Mapping[str, float]]], title: str = "", source: str = "") -> Figure:
    """Top-1 accuracy against the occlusion probability, one line per model."""
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.subplots()
    for name, points in curves.items():
        pts = sorted(points, key=lambda d: d["op"])
        ax.plot([d["op"] for d in pts], [100 * d["top1"] for d in pts], marker="o", label=name)
    ax.set_xlabel("occlusion probability (OP)")
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Accuracy vs occlusion probability", fontsize=10)
    return caption(fig, source) if source else fig


def sensitivity_figure(drops: Mapping[str, Sequence[float]], title: str = "", source: str = "") -> Figure:
    """Grouped bars: each model's top-1 drop when one part is removed in every frame."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    width = 0.8 / max(len(drops), 1)
    x = np.arange(len(PARTS))
    for k, (name, values) in enumerate(drops.items()):
        ax.bar(x + (k - (len(drops) - 1) / 2) * width, 100 * np.asarray(values, dtype=float), width, label=name)
    ax.set_xticks(x, [PART_LABELS[p] for p in PARTS])
    ax.set_ylabel("top-1 drop (points)")
    ax.axhline(0, color="black", lw=0.6)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "Top-1 drop when one part is removed", fontsize=10)
    return caption(fig, source) if source else fig


@dataclass(frozen=True)
class Prediction:
    """One model's top-1 on a grid row: who, which class, its probability, right or wrong."""

    model: str
    label: str
    probability: float
    correct: bool

    @property
    def text(self) -> str:
        return f"{'✓' if self.correct else '✗'} {self.model}: {self.label} ({self.probability:.0%})"


@dataclass(frozen=True)
class GridRow:
    """One row of the clip grid: a clip (M, T, V, C), its layout, the joints drawn as occluded (M, T, V), a row
    label and the predictions printed beside it."""

    label: str
    clip: np.ndarray
    layout: Layout
    occluded: np.ndarray | None = None
    predictions: tuple[Prediction, ...] = field(default_factory=tuple)


def grid_frames(clip: np.ndarray, count: int) -> np.ndarray:
    """`count` evenly spaced frame indices over the frames that hold a skeleton."""
    frames = np.flatnonzero(present(clip).any(axis=(0, 2)))
    if not frames.size:
        frames = np.arange(clip.shape[1])
    return frames[np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)]


def _draw_skeleton(
    ax: Axes, clip: np.ndarray, layout: Layout, occluded: np.ndarray | None, t: int, axes: list[int], signs: np.ndarray
) -> None:
    """One frame of a clip: bones and joints coloured by part; occluded joints as grey crosses, their bones dashed."""
    valid = present(clip)[:, t]
    occ = occluded[:, t] & valid if occluded is not None else np.zeros_like(valid)
    shown = valid & ~occ
    parts = np.asarray(layout.parts)
    xy = clip[:, t][..., axes] * signs
    for m in range(clip.shape[0]):
        for a, b in layout.edges:
            if shown[m, a] and shown[m, b]:
                ax.plot(*xy[m, [a, b]].T, color=PART_COLORS[PARTS[parts[a]]], lw=1.4, solid_capstyle="round")
            elif valid[m, a] and valid[m, b]:
                ax.plot(*xy[m, [a, b]].T, color=OCCLUDED_COLOR, lw=0.8, ls="--")
        for v in np.flatnonzero(shown[m]):
            ax.plot(*xy[m, v], "o", ms=2.2, color=PART_COLORS[PARTS[parts[v]]])
        for v in np.flatnonzero(occ[m]):
            ax.plot(*xy[m, v], "x", ms=3.5, mew=1.0, color=OCCLUDED_COLOR)


def _front_view(clip: np.ndarray, layout: Layout) -> tuple[list[int], np.ndarray]:
    """The two coordinate axes of a flat front view (across, up) and their signs."""
    axes, signs = drawing_axes(clip, layout)
    view, view_signs = [axes[0], axes[-1]], np.array([signs[0], signs[-1]])
    if layout.dims != 3 and signs[-1] < 0:
        view_signs = np.array([1.0, -1.0])  # image coordinates: y grows downwards
    return view, view_signs


def clip_grid_figure(rows: Sequence[GridRow], frames: int = 6, title: str = "", source: str = "") -> Figure:
    """The paper's Figs. 6-7: one row per skeleton version, evenly spaced frames as small panels, each row's
    predictions (✓ / ✗ against the truth) beside it."""
    fig = Figure(figsize=(1.45 * frames + 3.2, 1.7 * len(rows)))
    grid = fig.subplots(len(rows), frames + 1, gridspec_kw={"width_ratios": [1.0] * frames + [2.3]}, squeeze=False)
    for r, row in enumerate(rows):
        clip = np.asarray(row.clip, dtype=float)
        clip = clip[None] if clip.ndim == 3 else clip
        occluded = None if row.occluded is None else np.asarray(row.occluded, bool).reshape(clip.shape[:3])
        picked = grid_frames(clip, frames)
        view, view_signs = _front_view(clip, row.layout)
        shown = present(clip)
        pts = clip[..., view][shown] * view_signs if shown.any() else np.zeros((1, 2))
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.08 * float(max((hi - lo).max(), 1e-6))
        for c in range(frames):
            ax = grid[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("#dddddd")
            if c >= len(picked):
                ax.axis("off")
                continue
            _draw_skeleton(ax, clip, row.layout, occluded, int(picked[c]), view, view_signs)
            ax.set_xlim(lo[0] - pad, hi[0] + pad)
            ax.set_ylim(lo[1] - pad, hi[1] + pad)
            ax.set_aspect("equal", adjustable="box")
            if r == 0:
                ax.set_title(f"frame {int(picked[c]) + 1}", fontsize=7)
        grid[r, 0].set_ylabel(row.label, fontsize=8, rotation=0, ha="right", va="center", labelpad=8)
        side = grid[r, frames]
        side.axis("off")
        for k, p in enumerate(row.predictions):
            side.text(
                0.02,
                0.8 - 0.28 * k,
                p.text,
                fontsize=8,
                va="center",
                transform=side.transAxes,
                color=CORRECT_COLOR if p.correct else WRONG_COLOR,
            )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return caption(fig, source) if source else fig


def history_figure(history: Sequence[Mapping[str, float | None]], title: str = "", source: str = "") -> Figure:
    """Training curves per epoch (drawing.history_series): loss, and train / validation accuracy (%), each through
    the epochs that have a value."""
    fig = Figure(figsize=(8.0, 3.2))
    loss_ax, acc_ax = fig.subplots(1, 2)
    for s in history_series(history):
        ax, scale = (loss_ax, 1) if s.panel == "loss" else (acc_ax, 100)
        points = [(e, scale * v) for e, v in zip(s.epochs, s.values) if v is not None]
        ax.plot(*zip(*points), marker="o", label=None if ax is loss_ax else s.name)
    loss_ax.set_title("loss", fontsize=9)
    acc_ax.set_title("accuracy (%)", fontsize=9)
    acc_ax.legend(fontsize=8)
    for ax in (loss_ax, acc_ax):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return caption(fig, source) if source else fig


def table1_rows(
    curves: Mapping[str, Sequence[Mapping[str, float]]], teacher: str | None = None, ops: Sequence[float] = TABLE_OPS
) -> list[dict[str, object]]:
    """Table 1: top-1 (%) of each model at each OP; the teacher only at OP 0 (clean high quality), as in the
    paper; None where there is no number."""
    rows = []
    for name, points in curves.items():
        at = {round(float(p["op"]), 3): float(p["top1"]) for p in points}
        cells: dict[str, object] = {"model": name}
        for op in ops:
            value = at.get(round(float(op), 3))
            cells[f"OP {op:g}"] = None if value is None or (name == teacher and op > 0) else round(100 * value, 2)
        rows.append(cells)
    return rows


def _cell(value: object) -> str:
    return "" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)


def table_markdown(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows as a Markdown table (empty cells blank)."""
    keys = list(rows[0]) if rows else []
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(_cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def table_csv(rows: Sequence[Mapping[str, object]]) -> str:
    """Rows as CSV (empty cells blank)."""
    buf = io.StringIO()
    keys = list(rows[0]) if rows else []
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(keys)
    writer.writerows([[_cell(r.get(k)) for k in keys] for r in rows])
    return buf.getvalue()


def table_latex(rows: Sequence[Mapping[str, object]], caption_text: str = "") -> str:
    """Rows as a LaTeX tabular (booktabs), text escaped."""

    def esc(text: str) -> str:
        for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#")):
            text = text.replace(a, b)
        return text

    keys = list(rows[0]) if rows else []
    out = [
        r"\begin{table}[t]",
        r"\centering",
        r"\begin{tabular}{l" + "r" * (len(keys) - 1) + "}",
        r"\toprule",
        " & ".join(esc(k) for k in keys) + r" \\",
        r"\midrule",
    ]
    out += [" & ".join(esc(_cell(r.get(k))) for k in keys) + r" \\" for r in rows]
    out += [r"\bottomrule", r"\end{tabular}"]
    if caption_text:
        out.append(r"\caption{" + esc(caption_text) + "}")
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def matrix_csv(values: np.ndarray, row_names: Sequence[str], column_names: Sequence[str], corner: str = "") -> str:
    """A labelled matrix as CSV (e.g. E: classes x parts)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([corner, *column_names])
    for name, row in zip(row_names, np.asarray(values, dtype=float)):
        writer.writerow([name, *(f"{v:.6g}" for v in row)])
    return buf.getvalue()


def curves_csv(curves: Mapping[str, Sequence[Mapping[str, float]]]) -> str:
    """Accuracy-vs-OP points as long CSV: model, op, top1, top5."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["model", "op", "top1", "top5"])
    for name, points in curves.items():
        for p in sorted(points, key=lambda d: d["op"]):
            writer.writerow([name, f"{p['op']:g}", f"{p['top1']:.6g}", f"{p.get('top5', float('nan')):.6g}"])
    return buf.getvalue()


def clip_csv(clips: Sequence[tuple[str, np.ndarray, Layout, np.ndarray | None]]) -> str:
    """Clips (label, (M, T, V, C), layout, occluded mask or None) as one long CSV: clip, person, frame, joint, part,
    the coordinates (x, y, and z or the confidence) and whether the joint was occluded."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["clip", "person", "frame", "joint", "part", "x", "y", "z_or_confidence", "occluded"])
    for label, clip, layout, occluded in clips:
        _clip_rows(writer, label, clip, layout, occluded)
    return buf.getvalue()


def _clip_rows(writer: Any, label: str, clip: np.ndarray, layout: Layout, occluded: np.ndarray | None) -> None:
    clip = np.asarray(clip, dtype=float)
    clip = clip[None] if clip.ndim == 3 else clip
    hidden = np.zeros(clip.shape[:3], bool) if occluded is None else np.asarray(occluded, bool).reshape(clip.shape[:3])
    for m, t, v in zip(*np.nonzero(present(clip) | hidden)):
        coords = [f"{c:.6g}" for c in clip[m, t, v, :3]] + [""] * (3 - min(clip.shape[-1], 3))
        writer.writerow([label, m, t, layout.joints[v], PARTS[layout.parts[v]], *coords, int(hidden[m, t, v])])


def grid_csv(rows: Sequence[GridRow]) -> str:
    """The clip grid's numbers: per row, each model's top-1 class, probability and verdict."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["row", "model", "top1", "probability", "correct"])
    for row in rows:
        for p in row.predictions:
            writer.writerow([row.label, p.model, p.label, f"{p.probability:.6g}", int(p.correct)])
    return buf.getvalue()


def explanation_figure(result: Mapping[str, Any], layout: Layout, source: str = "") -> Figure:
    """One clip's explanations (engine.explain.explain_dataset_clip): a parts × time strip per method, the deletion
    curves against random order, and the skeleton at the most important window with joints sized by the
    recommended method's importance."""
    from partkd.distill.explain import DEFAULT_EXPLAINER

    methods = list(result["methods"])
    fig = Figure(figsize=(3.2 * len(methods), 6.4))
    grid = fig.add_gridspec(2, len(methods), height_ratios=[1.0, 1.2])
    windows = result["windows"]
    for i, name in enumerate(methods):
        ax = fig.add_subplot(grid[0, i])
        parts = np.asarray(result["methods"][name]["parts"], dtype=float).T  # (5, W)
        span = max(float(np.abs(parts).max()), 1e-9)
        image = ax.imshow(parts, cmap="RdBu_r", vmin=-span, vmax=span, aspect="auto")
        ax.set_yticks(range(len(PARTS)), [PART_LABELS[p] for p in PARTS], fontsize=7)
        ax.set_xticks(range(len(windows)), [f"{a}" for a, _ in windows], fontsize=6)
        ax.set_xlabel("window start (input frame)", fontsize=7)
        ax.set_title(f"{name}: deletion AUC {result['methods'][name]['auc']:.3f}", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.05).ax.tick_params(labelsize=6)
    ax = fig.add_subplot(grid[1, : max(1, len(methods) - 1)])
    for name in methods:
        curve = result["methods"][name]["deletion"]
        ax.plot(
            np.linspace(0, 1, len(curve)),
            curve,
            marker="o",
            ms=2.5,
            label=f"{name} (AUC {result['methods'][name]['auc']:.3f})",
        )
    ax.axhline(
        result["random_auc"],
        color="#777777",
        ls="--",
        lw=0.9,
        label=f"random order, mean AUC {result['random_auc']:.3f}",
    )
    ax.set_xlabel("share of (window, joint) cells zeroed, most important first", fontsize=8)
    ax.set_ylabel(f"p({result['true']})", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ax.set_title("Deletion curves: lower = the order found what the score rests on", fontsize=8)
    sk = fig.add_subplot(grid[1, -1])
    best = DEFAULT_EXPLAINER if DEFAULT_EXPLAINER in result["methods"] else methods[0]
    joints = np.asarray(result["methods"][best]["joints"], dtype=float)  # (W, V)
    w = int(np.argmax(joints.max(axis=1)))
    a, b = windows[w]
    clip = np.asarray(result["input"])
    t = (a + b - 1) // 2
    plot_axes, plot_signs = _front_view(clip, layout)
    _draw_skeleton(sk, clip, layout, None, t, plot_axes, plot_signs)
    xy = clip[:, t][..., plot_axes] * plot_signs
    size = np.clip(joints[w] / max(float(joints[w].max()), 1e-9), 0, 1)
    valid = present(clip)[:, t]
    for m in range(clip.shape[0]):
        ok = valid[m]
        sk.scatter(
            xy[m, ok, 0],
            xy[m, ok, 1],
            s=10 + 220 * size[ok],
            c=size[ok],
            cmap="Reds",
            vmin=0,
            vmax=1,
            alpha=0.7,
            zorder=3,
        )
    sk.set_aspect("equal")
    sk.set_xticks([])
    sk.set_yticks([])
    sk.set_title(f"{best} importance, frames {a}-{b - 1}", fontsize=8)
    verdict = "correct" if result["predicted"] == result["true"] else f"predicted {result['predicted']}"
    fig.suptitle(f"{result['clip']}: true {result['true']} (p = {result['probability']:.2f}), {verdict}", fontsize=10)
    fig.subplots_adjust(hspace=0.45, wspace=0.45)
    return caption(fig, source) if source else fig


__all__ = [
    "DPI",
    "IMAGE_FORMATS",
    "GridRow",
    "Prediction",
    "accuracy_figure",
    "caption",
    "clip_csv",
    "clip_grid_figure",
    "curves_csv",
    "efficiency_figure",
    "explanation_figure",
    "figure_bytes",
    "grid_csv",
    "grid_frames",
    "history_figure",
    "matrix_csv",
    "save_figure",
    "sensitivity_figure",
    "table1_rows",
    "table_csv",
    "table_latex",
    "table_markdown",
]
