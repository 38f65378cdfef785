"""The benchmark harness (benchmarks/harness.py, benchmarks/harness_data.py): its Markdown tables, atomic publishing,
provenance, the child runner's peak RSS, the one `bench` preset, and that no benchmark script imports another."""

from __future__ import annotations

import ast
import json
import re
import sys
import time
from pathlib import Path

import pytest

import partkd

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import harness  # noqa: E402  (the benchmarks' own modules, imported as the scripts import them)
import harness_data  # noqa: E402

#: The modules of benchmarks/ that scripts may import; every other .py file there is a script.
LIBRARIES = {"harness", "harness_data"}
PY = sys.executable


def test_md_table_renders_a_pipe_table() -> None:
    table = harness.md_table(["model", "OP 0", "OP 0.3"], [["teacher", 92.79, ""], ["a|b", 1, (2, 3)]])
    assert table == ("| model | OP 0 | OP 0.3 |\n|---|---|---|\n| teacher | 92.79 |  |\n| a\\|b | 1 | (2, 3) |")
    assert harness.md_table(["a"], []) == "| a |\n|---|"
    with pytest.raises(ValueError, match="2 cells under a header of 3"):
        harness.md_table(["a", "b", "c"], [["x", "y"]])


def test_publish_writes_json_and_markdown_next_to_a_dotted_stem(tmp_path: Path) -> None:
    stem = tmp_path / "sub" / "penn_action.tau1"
    harness.publish(stem, {"top1": 0.5, "rows": [1, 2]}, "# report\n")
    assert json.loads((tmp_path / "sub" / "penn_action.tau1.json").read_text()) == {"top1": 0.5, "rows": [1, 2]}
    assert (tmp_path / "sub" / "penn_action.tau1.md").read_text() == "# report\n"
    harness.publish(tmp_path / "only_md", None, "text")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["only_md.md", "sub"]


def test_a_failed_publish_leaves_the_old_files_whole_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import partkd.io
    from partkd.errors import PartKDError

    stem = tmp_path / "result"
    harness.publish(stem, {"old": True}, "old")
    with pytest.raises(TypeError):  # not JSON: nothing is written
        harness.publish(stem, {"new": object()}, "new")

    def no_rename(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(partkd.io.os, "replace", no_rename)  # the data is written, the rename fails
    with pytest.raises(PartKDError):
        harness.publish(stem, {"new": True}, "new")
    assert json.loads((tmp_path / "result.json").read_text()) == {"old": True}
    assert (tmp_path / "result.md").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json", "result.md"]


def test_provenance_names_command_date_machine_and_code() -> None:
    prov = harness.provenance(["--seeds", "0", "1", "--note", "two words"])
    assert prov.command.startswith("python ") and prov.command.endswith("--seeds 0 1 --note 'two words'")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", prov.date)
    assert prov.machine.startswith("CUDA ") or re.fullmatch(r"CPU .+, \d+ cores, \d+ torch threads", prov.machine)
    assert prov.code_version.startswith(partkd.__version__)
    assert prov.record() == {
        "command": prov.command,
        "device": prov.machine,
        "date": prov.date,
        "code_version": prov.code_version,
    }
    assert harness.provenance_line("python x.py", "2026-12-01 10:00 UTC", "0.1.0+abc", "CPU Z, 2 cores") == (
        "Command: `python x.py`; date 2026-12-01 10:00 UTC; code 0.1.0+abc; machine: CPU Z, 2 cores."
    )


def test_run_child_measures_the_peak_rss_of_a_child_that_allocates_200_mb() -> None:
    run = harness.run_child([PY, "-c", "import time; block = b'x' * 200_000_000; time.sleep(0.5)"])
    assert run.returncode == 0 and not run.stopped
    assert run.peak_rss_bytes >= 150e6
    assert 190 <= run.peak_rss_mib <= 400


def test_run_child_does_not_report_the_parents_peak_as_the_childs() -> None:
    block = b"y" * 300_000_000  # this process's high-water mark, which a forked child inherits in wait4's ru_maxrss
    del block
    run = harness.run_child([PY, "-c", "import time; time.sleep(0.5)"])
    assert 0 < run.peak_rss_bytes < 100e6


def test_run_child_stops_on_request_and_reports_failures() -> None:
    t0 = time.monotonic()
    run = harness.run_child(
        [PY, "-c", "import time; print('hi', flush=True); time.sleep(30)"], stop=lambda: time.monotonic() - t0 > 0.5
    )
    assert run.stopped and run.returncode != 0 and run.seconds < 5 and run.stdout == "hi\n"
    ok = harness.run_child(
        [PY, "-c", "import json, os; print(json.dumps({'v': os.environ['BENCH_X']}))"], env={"BENCH_X": "7"}, check=True
    )
    assert ok.last_json() == {"v": "7"}
    with pytest.raises(RuntimeError, match="boom"):
        harness.run_child([PY, "-c", "raise SystemExit('boom')"], check=True)


def test_the_bench_preset_is_the_cpu_preset_shortened() -> None:
    from dataclasses import asdict

    from partkd.engine.config import train_preset

    cfg = harness_data.train_cfg("bench", 3)
    assert (cfg.preset, cfg.epochs, tuple(cfg.milestones), cfg.eval_every, cfg.seed) == ("bench", 10, (6, 8), 5, 3)
    cut = train_preset("cpu", epochs=10, milestones=(6, 8), eval_every=5, seed=3, modalities=("j",))
    assert {**asdict(cfg), "preset": "cpu"} == asdict(cut)  # joints pinned: the committed tables' teachers'
    assert harness_data.train_cfg("bench", 0, modalities=("ba",)).modalities == ("ba",)


def _imports_and_path_edits(path: Path) -> tuple[set[str], int]:
    """The top-level modules a file imports, and how often its code touches sys.path (also in child-code strings)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    edits = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", None) == "sys":
            edits += 1
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "sys.path.insert(" in node.value:
            edits += 1
    return names, edits


def test_no_benchmark_script_imports_another_or_edits_sys_path() -> None:
    files = sorted(BENCH.glob("*.py"))
    scripts = {p.stem for p in files} - LIBRARIES
    assert LIBRARIES <= {p.stem for p in files} and len(scripts) >= 16
    for path in files:
        imported, path_edits = _imports_and_path_edits(path)
        assert not (imported & (scripts - {path.stem})), f"{path.name} imports a benchmark script"
        assert path_edits == 0, f"{path.name} edits sys.path"


def test_recipe_choice_keeps_each_methods_best_validation_mean_and_knows_the_shipped_recipe() -> None:
    import choose_recipe  # noqa: PLC0415

    cands = choose_recipe.candidates([10, 20], [0.1, 1.0])
    assert len(cands) == 2 + 2 * 2 * len(choose_recipe.EFFICIENCIES)
    assert choose_recipe.run_name(cands[2]) == "pmsc_e10_tau0.1_shapley"
    recs = [
        {"kd": "none", "run": "a", "epochs": 20, "mean": 70.0},
        {"kd": "none", "run": "b", "epochs": 10, "mean": 70.0},  # a tie goes to the shorter run
        {"kd": "pmsc", "run": "c", "epochs": 10, "mean": 71.0},
        {"kd": "pmsc", "run": "e", "epochs": 10, "mean": 72.0},
        {"kd": "pmsc", "run": "d", "epochs": 20, "mean": 74.5},  # not the baseline's schedule
    ]
    assert {k: r["run"] for k, r in choose_recipe.choose(recs).items()} == {"none": "b", "pmsc": "e"}
    recs[0]["mean"] = 70.5
    assert {k: r["run"] for k, r in choose_recipe.choose(recs).items()} == {"none": "a", "pmsc": "d"}
    from types import SimpleNamespace

    from partkd.engine.config import StudentConfig

    rec = SimpleNamespace(
        student=SimpleNamespace(epochs=10), variants={"none": StudentConfig(kd="none"), "pmsc": StudentConfig(tau=0.1)}
    )
    assert [choose_recipe.shipped(c, rec) for c in cands[:3]] == [True, False, True]
    assert not choose_recipe.shipped({**cands[2], "tau": 1.0}, rec)
    more = choose_recipe.candidates([20], [0.1], ["miss"], teachers=("j",))
    assert [choose_recipe.run_name(c) for c in more] == ["none_e20", "pmsc_e20_tau0.1_miss", "pmsc_e20_tau0.1_miss_tj"]
    rec.student.epochs = 20
    pmsc = StudentConfig(tau=0.1, efficiency="miss", efficiency_temperature=1.0)
    rec.variants["pmsc"] = pmsc
    assert [choose_recipe.shipped(c, rec) for c in more] == [True, True, False]  # another teacher is not the recipe


def test_coach_regions_scores_the_top_part_of_the_default_e() -> None:
    import coach_regions  # noqa: PLC0415
    import numpy as np

    classes = [*harness_data.COACH, "baseball_pitch"]
    e = np.zeros((len(classes), 5))
    e[:, 2] = 1.0  # right arm everywhere
    meta = {
        "E_default": "shapley",
        "E_shapley": e.tolist(),
        "class_names": classes,
        "model": {"modalities": ["ba"]},
        "train": {"part_dropout": 0.5, "joint_dropout": 0.1},
    }
    got = coach_regions.score(meta)
    assert got["named"] == 5 and not got["classes"]["squat"]["named"] and got["classes"]["pullup"]["top"] == "right_arm"


def test_shipped_seeds_summary_gives_mean_spread_and_each_seeds_gain() -> None:
    import shipped_seeds  # noqa: PLC0415

    curves = {
        "none": {0: [80.0, 70.0, 60.0], 1: [82.0, 72.0, 64.0]},
        "pmsc": {0: [81.0, 72.0, 66.0], 1: [81.0, 72.0, 64.0]},
    }
    res = shipped_seeds.summarize(curves)
    assert res["none"]["mean"] == [81.0, 71.0, 62.0] and res["none"]["sd"][2] == pytest.approx(2.8284271)
    assert res["gain_per_seed"] == {0: [1.0, 2.0, 6.0], 1: [-1.0, 0.0, 0.0]} and res["gain_mean"] == [0.0, 1.0, 3.0]


def test_stale_names_each_setting_a_finished_run_recorded_differently(tmp_path: Path) -> None:
    from dataclasses import replace

    from partkd.engine.config import DataSpec, StudentConfig, spec_dict, to_dict, train_preset

    spec, cfg, kd = DataSpec(validation=0.2), train_preset("smoke", epochs=3), StudentConfig(tau=0.1)
    meta = {
        "model": {},
        "layout": {},
        "class_names": [],
        "data": spec_dict(spec),
        "train": {**to_dict(cfg), "modalities": ["j"]},
        "student": to_dict(kd),
    }
    (tmp_path / "model.json").write_text(json.dumps(meta))
    assert harness_data.stale(tmp_path, spec, cfg, kd) == []  # the resolved input is accepted
    assert harness_data.stale(tmp_path, replace(spec, validation=0.0)) == ["data.validation"]
    assert harness_data.stale(tmp_path, spec, replace(cfg, epochs=4), replace(kd, tau=1.0)) == [
        "train.epochs",
        "student.tau",
    ]
    none = {**meta, "student": to_dict(StudentConfig(kd="none", tau=0.1))}
    (tmp_path / "model.json").write_text(json.dumps(none))
    assert harness_data.stale(tmp_path, student=StudentConfig(kd="none", tau=1.0)) == []
    assert harness_data.stale(tmp_path, student=StudentConfig(kd="none", op=0.6)) == ["student.op"]


def test_kd_headroom_shares_the_gap_and_reads_a_study_by_its_complete_seeds(tmp_path: Path) -> None:
    import kd_headroom  # noqa: PLC0415

    got = kd_headroom.headroom(90.0, [80.0, 70.0, 95.0], [85.0, 80.0, 95.0])
    assert got["gap"] == [10.0, 20.0, -5.0] and got["gain"] == [5.0, 10.0, 0.0] and got["share"][:2] == [0.5, 0.5]
    assert got["share"][2] != got["share"][2]  # no gap: no share
    recs = [
        {"dataset": "penn_action", "mode": mode, "kd": kd, "op": op, "seed": s, "top1": top1 + s / 100 + shift}
        for mode, shift in (("span", 0.0), ("sequence", -0.1), ("test-only:span", -0.5))
        for kd, top1 in (("none", 0.8), ("pmsc", 0.85), ("pmsc-shapley", 0.9))
        for op in (0.0, 0.3, 0.6)
        for s in (0, 1)
    ]
    recs = [r for r in recs if not (r["mode"] == "span" and r["kd"] == "pmsc" and r["op"] == 0.6 and r["seed"] == 1)]
    path = tmp_path / "study.json"
    path.write_text(json.dumps({"teachers": {"penn_action": {"top1": 93.0}}, "records": recs}))
    rows = {
        (r["source"].split("`")[1], r["source"].split(", ")[2].split(" (")[0]): r for r in kd_headroom.study_rows(path)
    }
    assert sorted(rows) == sorted(
        (m, f"PMSC {w} weights") for m in ("sequence", "span") for w in ("miss-rate", "Shapley")
    )
    row = rows[("span", "PMSC miss-rate weights")]  # seed 1 lacks this PMSC at OP 0.6: only seed 0 counts
    assert row["seeds"] == 1 and row["data"] == "Penn Action" and row["teacher"] == 93.0
    assert row["none"] == pytest.approx([80.0] * 3) and row["pmsc"] == pytest.approx([85.0] * 3)
    row = rows[("sequence", "PMSC Shapley weights")]
    assert row["seeds"] == 2 and row["none"] == pytest.approx([70.5] * 3) and row["pmsc"] == pytest.approx([80.5] * 3)


def test_kd_headroom_reads_a_table1_file_only_when_it_names_its_reading(tmp_path: Path) -> None:
    import kd_headroom  # noqa: PLC0415

    students = [
        {"setting": st, "kd": kd, "op": op, "top1": top1 - op / 10, "seeds": [{"seed": s} for s in range(n)]}
        for st in ("heterogeneous", "homogeneous")
        for kd, top1, n in (("none", 0.25, 3), ("pmsc", 0.28, 2))
        for op in (0.0, 0.3, 0.6)
    ]
    doc = {"dataset": "h36m", "preset": "bench", "teacher": {"top1": 0.29}, "students": students}
    old, new = tmp_path / "old.json", tmp_path / "h36m_seq.json"
    old.write_text(json.dumps(doc))
    new.write_text(json.dumps({**doc, "occlusion": "sequence"}))
    assert kd_headroom.table1_rows(old) == []  # made before the reading was recorded
    (row,) = kd_headroom.table1_rows(new)
    assert row["data"] == "Human3.6M" and row["seeds"] == 2 and row["teacher"] == pytest.approx(29.0)
    assert "`sequence`" in row["source"]
    assert row["none"] == pytest.approx([25.0, 22.0, 19.0]) and row["pmsc"] == pytest.approx([28.0, 25.0, 22.0])


def test_kd_headroom_names_a_seed_files_part_weights_where_it_records_them() -> None:
    import kd_headroom  # noqa: PLC0415

    new = {"occlusion": "sequence", "efficiency": ["miss", 1.0]}
    assert kd_headroom.seed_source(new, "s.json") == "shipped recipe, sequence, PMSC miss weights (s.json)"
    assert kd_headroom.seed_source({}, "old.json") == "recipe shipped when made, span (old.json)"  # predates both keys
