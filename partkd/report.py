"""The paper's figures and Table 1 from checkpoints and data, shared by the app and `partkd report`: every model's
predictions under the engine's one occlusion protocol, the clip grid (Figs. 6-7), the clip the paper would show,
and the report's files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from partkd import figures
from partkd.checkpoints import Loaded, code_version, kd_method
from partkd.data.dataset import NO_PAIR, PairedDataset, SkeletonDataset
from partkd.data.inputs import Inputs
from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE
from partkd.distill.definitions import DEFAULT_EFFICIENCY, EFFICIENCIES
from partkd.engine.data import model_inputs
from partkd.engine.evaluate import (
    accuracy_vs_op,
    check_compatible,
    occlude_set,
    part_sensitivity,
    proba_and_streams,
)
from partkd.errors import ConfigError, where
from partkd.io import atomic_write_json, atomic_write_text
from partkd.layouts import PARTS
from partkd.paper import TABLE_OPS
from partkd.viz import occlusion_mask

#: The OPs of an accuracy-vs-occlusion curve (the grid's rows are Table 1's, as in the paper's Figs. 6-7).
CURVE_OPS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(10))
ROLES: tuple[str, ...] = ("teacher", "nokd", "kd")


def model_label(role: str, loaded: Loaded) -> str:
    """How figures name a model: the teacher, the student without KD, the student with its KD method."""
    if role == "teacher":
        return "teacher"
    return "w/o KD" if kd_method(loaded.meta) == "none" else f"w/ {kd_method(loaded.meta).upper()}"


def assign_roles(teacher: Loaded | None, students: Sequence[Loaded]) -> dict[str, Loaded]:
    """{role: checkpoint}: the teacher, the first student without KD ('nokd') and the first with KD ('kd')."""
    out: dict[str, Loaded] = {"teacher": teacher} if teacher is not None else {}
    for s in students:
        if s.role != "student":
            raise ConfigError(where(s.path, f"is a {s.role} checkpoint, not a student"))
        out.setdefault("nokd" if kd_method(s.meta) == "none" else "kd", s)
    return out


@dataclass
class GridData:
    """Everything the clip grid reads, for the test split: the low-quality clips the students see, the teacher's
    high-quality clip of each (−1 when unpaired), every model's probabilities at each OP, and the drawn inputs."""

    models: dict[str, Loaded]
    high: SkeletonDataset
    low: SkeletonDataset
    high_of_low: np.ndarray
    ops: tuple[float, ...]
    mode: str
    seed: int
    probs: dict[tuple[str, float], np.ndarray] = field(default_factory=dict)
    #: a multi-stream model's probabilities per stream, by modality ({} for one-stream models)
    streams: dict[tuple[str, float], dict[str, np.ndarray]] = field(default_factory=dict)
    clean: dict[str, Inputs] = field(default_factory=dict)
    occluded: dict[float, Inputs] = field(default_factory=dict)
    #: False when the models ran on some clips only (grid_data's `only`): the other rows of `probs` are NaN
    complete: bool = True

    @property
    def drawn(self) -> str | None:
        """The student whose inputs the low-quality rows draw (the KD student, else the one without KD)."""
        return next((r for r in ("kd", "nokd") if r in self.models), None)

    def correct(self, role: str, op: float) -> np.ndarray:
        """(N_low,) whether the model's top-1 is right on each low-quality test clip (teacher: on its H clip)."""
        p = self.probs[(role, op)]
        if role == "teacher":
            right = p.argmax(1) == self.high.labels
            return np.where(self.high_of_low >= 0, right[np.maximum(self.high_of_low, 0)], False)
        return p.argmax(1) == self.low.labels


def grid_data(
    models: dict[str, Loaded],
    data: PairedDataset,
    ops: Sequence[float] = TABLE_OPS,
    mode: str = DEFAULT_OCCLUSION_MODE,
    seed: int = 0,
    parts: Sequence[str] | None = None,
    only: Sequence[int] | None = None,
) -> GridData:
    """Predictions of every model on the test split: the teacher on clean H, the students on L occluded at each OP
    by the engine's protocol (the accuracies equal `partkd evaluate --op ... --seed`). With `only` (low-quality
    test clips) the whole set is occluded as always but the models run on those clips and their high-quality
    clips only (a first view of one clip in a fraction of the time; the other rows stay NaN)."""

    high, low = data.high.by_split("test"), data.low.by_split("test")
    high_of_low = high_index_of_low(high, low)
    gd = GridData(models, high, low, high_of_low, tuple(ops), mode, seed, complete=only is None)
    low_rows = np.arange(len(low)) if only is None else np.asarray(only, dtype=np.int64)
    high_rows = np.arange(len(high)) if only is None else np.unique(high_of_low[low_rows][high_of_low[low_rows] >= 0])
    for role, loaded in models.items():
        ds = high if role == "teacher" else low
        rows = high_rows if role == "teacher" else low_rows
        check_compatible(loaded, ds)
        clean = model_inputs(ds, loaded.meta)
        gd.clean[role] = clean
        for op in [0.0] if role == "teacher" else gd.ops:
            x = occlude_set(clean, loaded.layout, op, mode, seed, parts)
            probs, streams = proba_and_streams(loaded, x if only is None else x[rows])
            gd.probs[(role, op)] = _rows_of(probs, rows, len(ds))
            gd.streams[(role, op)] = {k: _rows_of(v, rows, len(ds)) for k, v in streams.items()}
            if role == gd.drawn:
                gd.occluded[op] = x
    return gd


def high_index_of_low(high: SkeletonDataset, low: SkeletonDataset) -> np.ndarray:
    """For each low-quality clip, the index of its high-quality clip in `high` (−1 when unpaired)."""
    index = {int(p): i for i, p in enumerate(high.pair_ids) if p != NO_PAIR}
    return np.asarray([index.get(int(p), -1) for p in low.pair_ids], dtype=np.int64)


def _rows_of(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """`values` (one row per entry of `rows`) placed in an (n, ...) array of NaN; `values` itself when it is all."""
    if len(rows) == n and np.array_equal(rows, np.arange(n)):
        return values
    out = np.full((n, *values.shape[1:]), np.nan, dtype=values.dtype)
    out[rows] = values
    return out


def showcase_op(gd: GridData) -> float:
    """The OP at which a clip the paper would show is judged: the KD student's training OP where the grid has it,
    else the grid's highest OP."""
    kd = gd.models.get("kd")
    trained = (getattr(kd, "meta", None) or {}).get("degradation", {}).get("op")
    return float(trained) if trained is not None and float(trained) in gd.ops else max(gd.ops)


def paper_clips(gd: GridData) -> np.ndarray:
    """Test clips the paper would show: both students right at OP 0 (where the grid has it), and at the KD student's
    training OP (showcase_op) the KD student right and the one without KD wrong (and the teacher right, where it is
    loaded), most confident KD first."""
    if not gd.complete:
        raise ValueError("paper_clips needs the predictions on every test clip (grid_data without `only`)")
    if "kd" not in gd.models or "nokd" not in gd.models:
        return np.zeros(0, dtype=np.int64)
    op = showcase_op(gd)
    good = gd.correct("kd", op) & ~gd.correct("nokd", op)
    if op != 0.0 and 0.0 in gd.ops:
        good &= gd.correct("kd", 0.0) & gd.correct("nokd", 0.0)
    if "teacher" in gd.models:
        good &= gd.correct("teacher", 0.0)
    picked = np.flatnonzero(good)
    confidence = gd.probs[("kd", op)][picked, gd.low.labels[picked]]
    return picked[np.argsort(-confidence, kind="stable")]


def _prediction(gd: GridData, role: str, op: float, row: int) -> figures.Prediction:
    p = gd.probs[(role, op)][row]
    truth = gd.high.labels[row] if role == "teacher" else gd.low.labels[row]
    top = int(p.argmax())
    return figures.Prediction(
        model_label(role, gd.models[role]), gd.low.class_names[top], float(p[top]), top == int(truth)
    )


def grid_rows(gd: GridData, clip: int, ops: Sequence[float] | None = None) -> list[figures.GridRow]:
    """The grid of low-quality test clip `clip`: the teacher's high-quality input (when paired and loaded), then the
    drawn student's input at each OP (default: all of gd.ops) with the occluded joints marked and the students' top-1
    beside each row."""
    rows = []
    h = int(gd.high_of_low[clip])
    if "teacher" in gd.models and h >= 0:
        t = gd.models["teacher"]
        rows.append(
            figures.GridRow(
                f"high quality\n({t.layout.name}, teacher input)",
                gd.clean["teacher"][h],
                t.layout,
                None,
                (_prediction(gd, "teacher", 0.0, h),),
            )
        )
    drawn = gd.drawn
    if drawn is not None:
        layout = gd.models[drawn].layout
        clean = gd.clean[drawn][clip]
        for op in gd.ops if ops is None else ops:
            mask = occlusion_mask(clean, gd.occluded[op][clip])
            students = tuple(_prediction(gd, r, op, clip) for r in ("nokd", "kd") if r in gd.models)
            rows.append(figures.GridRow(f"low quality\n({layout.name}, OP {op:g})", clean, layout, mask, students))
    return rows


def grid_title(gd: GridData, clip: int) -> str:
    return f"'{gd.low.class_names[gd.low.labels[clip]]}' · test clip {gd.low.names[clip]}"


def provenance(data: str, models: dict[str, Loaded], extra: str = "") -> str:
    """One line naming the data (DataSpec.describe), the checkpoints (file, preset, weights sha256) and the code
    version."""
    parts = [f"data: {data}"]
    for role, m in models.items():
        sha = str(m.meta.get("weights_sha256") or "")[:10]
        parts.append(f"{model_label(role, m)}: {m.path.name} ({m.meta.get('preset', '?')} preset, sha256 {sha})")
    parts.append(f"partkd {code_version()}")
    return "; ".join(parts) + (f"; {extra}" if extra else "")


def write_report(
    models: dict[str, Loaded],
    data: PairedDataset,
    data_label: str,
    out: Path | str,
    clip: int | None = None,
    mode: str = DEFAULT_OCCLUSION_MODE,
    seed: int = 0,
    formats: Sequence[str] = figures.IMAGE_FORMATS,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write the E heatmap, the clip grid, accuracy vs OP, part sensitivity (images + CSV) and Table 1 (Markdown,
    CSV, LaTeX) into `out`, with report.md / report.json listing them; returns the report's record."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _msg: None)
    files: list[str] = []
    notes: list[str] = []
    record: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "mode": mode,
        "seed": seed,
        "checkpoints": {r: str(m.path) for r, m in models.items()},
    }

    def image(fig: Any, name: str) -> None:
        files.extend(p.name for p in figures.save_figure(fig, out / name, formats))

    def text(name: str, content: str) -> None:
        atomic_write_text(out / name, content)
        files.append(name)

    source = provenance(data_label, models, f"occlusion {mode}, seed {seed}")
    teacher = models.get("teacher")
    if teacher is not None and "E_raw" in teacher.meta:
        say("E heatmap")
        d = EFFICIENCIES[DEFAULT_EFFICIENCY] if EFFICIENCIES[DEFAULT_EFFICIENCY].key in teacher.meta else None
        d = d or EFFICIENCIES["miss"]  # a teacher whose E predates the default definition
        e = np.asarray(teacher.meta[d.key], dtype=float)
        image(figures.efficiency_figure(e, teacher.class_names, source=source, label=d.label), "fig5_efficiency")
        text("efficiency.csv", figures.matrix_csv(e, teacher.class_names, list(PARTS), "class"))
    elif teacher is not None:
        notes.append(f"{teacher.path.name} has no part matrix E: run `partkd part-matrix {teacher.path}`")
    say("clip grid")
    gd = grid_data(models, data, TABLE_OPS, mode, seed)
    chosen = paper_clips(gd)
    if clip is None and chosen.size:
        clip = int(chosen[0])
        notes.append(
            f"clip: the most confident test clip where the KD student is right and the one without KD is "
            f"wrong at OP {max(TABLE_OPS):g} ({chosen.size} such clips)"
        )
    elif clip is None:
        clip = 0
        notes.append("clip: no test clip has the KD student right and the one without KD wrong; the first is shown")
    if not 0 <= clip < len(gd.low):
        raise ConfigError(where("--clip", f"must be in [0, {len(gd.low) - 1}] (test clips), got {clip}"))
    rows = grid_rows(gd, clip)
    image(figures.clip_grid_figure(rows, title=grid_title(gd, clip), source=source), "fig6_clip_grid")
    text("clip_grid.csv", figures.grid_csv(rows))
    record["clip"] = {"index": clip, "name": str(gd.low.names[clip]), "paper_choices": int(chosen.size)}
    curves: dict[str, list[dict]] = {}
    drops: dict[str, list[float]] = {}
    labels = {r: model_label(r, m) for r, m in models.items()}
    for role, m in models.items():
        say(f"accuracy vs OP: {labels[role]}")
        ds = data.high if role == "teacher" else data.low
        curves[labels[role]] = accuracy_vs_op(m, ds.by_split("test"), list(CURVE_OPS), seed=seed, mode=mode)
        drops[labels[role]] = part_sensitivity(m, ds.by_split("test")).tolist()
    image(figures.accuracy_figure(curves, source=source), "accuracy_vs_op")
    text("accuracy_vs_op.csv", figures.curves_csv(curves))
    image(figures.sensitivity_figure(drops, source=source), "part_sensitivity")
    text(
        "part_sensitivity.csv", figures.matrix_csv(np.asarray(list(drops.values())), list(drops), list(PARTS), "model")
    )
    table = figures.table1_rows(curves, teacher=labels.get("teacher"))
    text("table1.md", figures.table_markdown(table))
    text("table1.csv", figures.table_csv(table))
    text("table1.tex", figures.table_latex(table, f"Top-1 (%) on the test split. {source}"))
    record.update(table1=table, accuracy_vs_op=curves, part_sensitivity=drops, notes=notes, files=sorted(files))
    atomic_write_json(out / "report.json", record)
    lines = [
        f"# partkd report ({record['created']})",
        "",
        source,
        "",
        *[f"- {n}" for n in notes],
        "",
        figures.table_markdown(table),
        "",
        *[f"- [{f}]({f})" for f in sorted(files)],
    ]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return record


__all__ = [
    "CURVE_OPS",
    "GridData",
    "assign_roles",
    "grid_data",
    "grid_rows",
    "grid_title",
    "model_label",
    "paper_clips",
    "provenance",
    "write_report",
]
