"""Static figures (partkd.figures), the paper's clip choice and `partkd report` (partkd.report)."""
from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from partkd import figures
from partkd.layouts import PARTS, get_layout

ROOT = Path(__file__).resolve().parents[1]
DATA = ["--data", "synthetic", "--classes", "4", "--clips-per-class", "12", "--synth-frames", "24"]
CURVES = {"teacher": [{"op": 0.0, "top1": 0.9, "top5": 1.0}, {"op": 0.3, "top1": 0.5, "top5": 0.9}],
          "w/o KD": [{"op": 0.0, "top1": 0.8125, "top5": 1.0}, {"op": 0.3, "top1": 0.6, "top5": 0.95}]}


def test_table1_blanks_the_teacher_under_occlusion_and_renders_three_ways() -> None:
    rows = figures.table1_rows(CURVES, teacher="teacher", ops=(0.0, 0.3))
    assert rows == [{"model": "teacher", "OP 0": 90.0, "OP 0.3": None},
                    {"model": "w/o KD", "OP 0": 81.25, "OP 0.3": 60.0}]
    assert figures.table_markdown(rows) == ("| model | OP 0 | OP 0.3 |\n|---|---|---|\n| teacher | 90.00 |  |\n"
                                            "| w/o KD | 81.25 | 60.00 |\n")
    assert figures.table_csv(rows) == "model,OP 0,OP 0.3\nteacher,90.00,\nw/o KD,81.25,60.00\n"
    tex = figures.table_latex(rows, "Top-1 (%) on 50% of data_x")
    assert r"teacher & 90.00 &  \\" in tex and r"w/o KD & 81.25 & 60.00 \\" in tex
    assert r"\caption{Top-1 (\%) on 50\% of data\_x}" in tex and tex.count(r"\begin{tabular}{lrr}") == 1


def test_figures_encode_as_png_at_200_dpi_pdf_and_svg(tmp_path: Path) -> None:
    e = np.linspace(0, 1, 3 * len(PARTS)).reshape(3, len(PARTS))
    fig = figures.efficiency_figure(e, ["a", "b", "c"], source="data: hand-made")
    png = figures.figure_bytes(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    at = png.index(b"pHYs")                           # pixels per metre, both axes: 200 dpi = 7874 px/m
    assert struct.unpack(">II", png[at + 4: at + 12]) == (7874, 7874)
    screen = figures.figure_bytes(fig, "png", figures.SCREEN_DPI)  # what a page draws: 120 dpi = 4724 px/m
    at = screen.index(b"pHYs")
    assert struct.unpack(">II", screen[at + 4: at + 12]) == (4724, 4724)
    width = struct.unpack(">I", png[16:20])[0], struct.unpack(">I", screen[16:20])[0]  # IHDR width
    assert abs(width[1] / width[0] - 0.6) < 0.02, width
    assert figures.figure_bytes(fig, "pdf")[:5] == b"%PDF-"
    assert b"<svg" in figures.figure_bytes(fig, "svg")[:400]
    paths = figures.save_figure(fig, tmp_path / "e")
    assert [p.name for p in paths] == ["e.png", "e.pdf", "e.svg"] and all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(ValueError, match="unknown image format"):
        figures.figure_bytes(fig, "gif")
    assert figures.matrix_csv(e[:1, :2], ["a"], ["x", "y"], "class") == "class,x,y\na,0,0.0714286\n"
    assert figures.curves_csv({"m": CURVES["teacher"]}).splitlines()[1:] == ["m,0,0.9,1", "m,0.3,0.5,0.9"]


def test_grid_frames_are_evenly_spaced_over_the_frames_with_a_skeleton() -> None:
    clip = np.ones((1, 30, 17, 3))
    clip[:, 21:] = 0                                   # zero padding after frame 21
    assert figures.grid_frames(clip, 4).tolist() == [0, 7, 13, 20]
    assert figures.grid_frames(clip[:, :3], 6).tolist() == [0, 1, 2]


def test_clip_grid_has_a_row_per_version_and_marks_occluded_joints() -> None:
    layout = get_layout("coco17")
    clip = np.random.default_rng(0).normal(size=(1, 12, 17, 3)) + 3.0
    mask = np.zeros((1, 12, 17), bool)
    mask[0, :, 9] = True                               # the left wrist is occluded in every frame
    rows = [figures.GridRow("clean", clip, layout, None, (figures.Prediction("teacher", "wave", 0.9, True),)),
            figures.GridRow("OP 0.3", clip, layout, mask, (figures.Prediction("w/o KD", "kick", 0.4, False),))]
    fig = figures.clip_grid_figure(rows, frames=4)
    panels = fig.axes
    assert len(panels) == 2 * 5
    crosses = [line for line in panels[5].lines if line.get_marker() == "x"]
    assert len(crosses) == 1 and not [line for line in panels[0].lines if line.get_marker() == "x"]
    texts = [t.get_text() for t in panels[9].texts]
    assert texts == ["✗ w/o KD: kick (40%)"]
    assert figures.grid_csv(rows) == ("row,model,top1,probability,correct\nclean,teacher,wave,0.9,1\n"
                                      "OP 0.3,w/o KD,kick,0.4,0\n")


def test_paper_clips_pick_both_right_at_op0_and_only_kd_right_at_the_trained_op() -> None:
    from types import SimpleNamespace

    from partkd.data.dataset import SkeletonDataset
    from partkd.report import GridData, paper_clips, showcase_op

    labels = np.array([0, 1, 0, 1, 0])
    ds = SkeletonDataset([np.ones((1, 2, 17, 3))] * 5, labels, ["a", "b"], np.array(["test"] * 5),
                         get_layout("coco17"), [f"c{i}" for i in range(5)])

    def onehot(pred: list[int], conf: list[float]) -> np.ndarray:
        p = np.full((5, 2), 0.0)
        p[np.arange(5), pred] = conf
        p[np.arange(5), 1 - np.asarray(pred)] = 1 - np.asarray(conf)
        return p

    kd = SimpleNamespace(meta={"degradation": {"op": 0.3}})                    # trained at OP 0.3
    gd = GridData({"teacher": None, "nokd": None, "kd": kd}, ds, ds, np.arange(5), (0.0, 0.3, 0.6), "span", 0)  # type: ignore[dict-item]
    gd.probs = {("teacher", 0.0): onehot([0, 1, 1, 1, 0], [0.9] * 5),          # teacher wrong on clip 2
                ("kd", 0.0): onehot([0, 1, 0, 1, 0], [0.9] * 5),               # both right at OP 0 ...
                ("nokd", 0.0): onehot([0, 1, 0, 1, 1], [0.9] * 5),             # ... except no-KD on clip 4
                ("kd", 0.3): onehot([0, 1, 0, 0, 0], [0.6, 0.9, 0.8, 0.7, 0.9]),  # right on 0, 1, 2, 4
                ("nokd", 0.3): onehot([1, 0, 1, 1, 1], [0.9] * 5),             # wrong on every clip
                ("kd", 0.6): onehot([1, 1, 1, 1, 1], [0.9] * 5),               # the highest OP is not the one judged
                ("nokd", 0.6): onehot([0, 0, 0, 0, 0], [0.9] * 5)}
    assert showcase_op(gd) == 0.3
    assert paper_clips(gd).tolist() == [1, 0]    # clip 2 lacks the teacher, clip 4 no-KD at OP 0; KD confidence order
    gd.models["kd"] = SimpleNamespace(meta={"degradation": {"op": 0.5}})       # a training OP the grid lacks
    assert showcase_op(gd) == 0.6


@pytest.fixture(scope="module")
def students(smoke_teacher: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("students")
    paths = []
    for kd in ("none", "pmsc"):
        done = subprocess.run([sys.executable, "-m", "partkd", "train-student", *DATA, "--preset", "smoke",
                               "--batch-size", "8", "--teacher", str(smoke_teacher), "--kd", kd, "--op", "0.3",
                               "--out", str(out / kd)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        paths.append(out / kd / "model.safetensors")
    return paths


def test_report_writes_every_figure_and_its_table1_equals_evaluate(smoke_teacher: Path, students: list[Path],
                                                                    tmp_path: Path) -> None:
    """`partkd report` writes the figures as PNG, PDF and SVG with their CSVs and Table 1 in three forms; Table 1
    holds exactly what `partkd evaluate --op 0 0.3 0.6` reports for each student (one occlusion protocol)."""
    out = tmp_path / "report"
    done = subprocess.run([sys.executable, "-m", "partkd", "report", "--teacher", str(smoke_teacher),
                           "--students", *map(str, students), "--out", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for stem in ("fig5_efficiency", "fig6_clip_grid", "accuracy_vs_op", "part_sensitivity"):
        for fmt in figures.IMAGE_FORMATS:
            assert (out / f"{stem}.{fmt}").stat().st_size > 1000, stem
    for name in ("efficiency.csv", "clip_grid.csv", "accuracy_vs_op.csv", "part_sensitivity.csv", "table1.md",
                 "table1.csv", "table1.tex", "report.md"):
        assert (out / name).stat().st_size > 0, name
    record = json.loads((out / "report.json").read_text())
    table = {row["model"]: row for row in record["table1"]}
    for path, label in zip(students, ("w/o KD", "w/ PMSC")):
        ev = tmp_path / f"{label[-4:]}.json"
        done = subprocess.run([sys.executable, "-m", "partkd", "evaluate", str(path), "--op", "0", "0.3", "0.6",
                               "--json", str(ev)], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        expected = {f"OP {r['op']:g}": round(100 * r["top1"], 2) for r in json.loads(ev.read_text())["accuracy_vs_op"]}
        assert {k: v for k, v in table[label].items() if k != "model"} == expected
    assert table["teacher"]["OP 0.3"] is None and table["teacher"]["OP 0"] > 0
    assert "sha256" in (out / "report.md").read_text()


def test_report_without_models_is_a_one_line_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "partkd", "report", "--out", str(tmp_path / "r")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.strip() == "partkd: error: report: give a --teacher and/or --students"


def test_clip_csv_lists_present_and_occluded_joints_and_history_draws_both_panels() -> None:
    clip = np.zeros((1, 2, 17, 3))
    clip[0, 0, 0] = [1.0, 2.0, 0.9]
    clip[0, 1, 9] = [3.0, 4.0, 0.5]
    hidden = np.zeros((1, 2, 17), bool)
    hidden[0, 1, 9] = True
    assert figures.clip_csv([("low", clip, get_layout("coco17"), hidden)]).splitlines() == [
        "clip,person,frame,joint,part,x,y,z_or_confidence,occluded",
        "low,0,0,nose,head,1,2,0.9,0",
        "low,0,1,left_wrist,left_arm,3,4,0.5,1",
    ]
    fig = figures.history_figure([{"epoch": 1, "loss": 2.0, "train_acc": 0.5, "val_acc": None},
                                  {"epoch": 2, "loss": 1.0, "train_acc": 0.75, "val_acc": 0.6}])
    loss, acc = fig.axes
    assert list(loss.lines[0].get_ydata()) == [2.0, 1.0]
    assert [list(line.get_ydata()) for line in acc.lines] == [[50.0, 75.0], [60.0]]


def test_grid_data_never_pairs_clips_without_a_pair_id() -> None:
    """A low clip with pair id −1 has no high-quality clip, even when a high clip has −1 too."""
    from partkd.data.dataset import PairedDataset, SkeletonDataset
    from partkd.report import grid_data

    def ds(pairs: list[int], layout: str) -> SkeletonDataset:
        lay = get_layout(layout)
        return SkeletonDataset([np.ones((1, 4, lay.num_joints, 3))] * len(pairs), np.zeros(len(pairs), np.int64),
                               ["a"], np.array(["test"] * len(pairs)), lay, [f"c{i}" for i in range(len(pairs))],
                               np.array(pairs))

    gd = grid_data({}, PairedDataset(ds([-1, 5, 7], "ntu25"), ds([7, -1, 5], "coco17")))
    assert gd.high_of_low.tolist() == [2, -1, 1]
