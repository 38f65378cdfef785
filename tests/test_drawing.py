"""partkd.drawing: what the Plotly and matplotlib figures share; both back ends draw the same training curves."""
from __future__ import annotations

import math

from partkd import figures, viz
from partkd.drawing import history_series

HISTORY = [{"epoch": 1, "loss": 2.0, "train_acc": 0.5, "val_acc": None},
           {"epoch": 2, "loss": 1.0, "train_acc": 0.75, "val_acc": 0.6},
           {"epoch": 3, "loss": 0.5, "train_acc": math.nan, "val_acc": None}]


def test_history_series_mark_missing_values_and_skip_empty_curves():
    series = history_series(HISTORY)
    assert [(s.name, s.panel) for s in series] == [("loss", "loss"), ("train", "accuracy"),
                                                   ("validation", "accuracy")]
    assert series[0].epochs == [1, 2, 3] and series[1].values == [0.5, 0.75, None]
    assert series[2].values == [None, 0.6, None]
    assert [s.name for s in history_series([{"epoch": 1, "loss": 1.0, "val_acc": None}])] == ["loss"]


def test_both_back_ends_draw_the_same_curves():
    interactive = viz.history_figure(HISTORY)
    static = figures.history_figure(HISTORY)
    loss_ax, acc_ax = static.axes
    drawn = [(t.name, [(x, y) for x, y in zip(t.x, t.y) if y is not None]) for t in interactive.data]
    lines = [("loss", loss_ax.lines[0])] + [(line.get_label(), line) for line in acc_ax.lines]
    scale = {"loss": 1.0, "train": 100.0, "validation": 100.0}
    assert [name for name, _ in drawn] == [name for name, _ in lines]
    for (name, points), (_, line) in zip(drawn, lines):
        assert [(x, scale[name] * y) for x, y in points] == list(zip(line.get_xdata(), line.get_ydata()))
