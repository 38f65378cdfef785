"""The Streamlit app under streamlit.testing.v1.AppTest: every page runs, widgets change figures, errors stay readable."""
import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from partkd import viz

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["app.py", "pages/1_Skeletons.py", "pages/2_Train.py", "pages/3_Part_efficiency.py", "pages/4_Compare.py",
         "pages/5_Robustness.py"]
SHIPPED = {name: ROOT / "checkpoints" / f"{name}.json" for name in ("teacher", "student_nokd", "student_pmsc")}
needs_checkpoints = pytest.mark.skipif(not all(p.exists() for p in SHIPPED.values()),
                                       reason="shipped checkpoints (checkpoints/teacher.*, student_*.*) not built yet")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def jobs_root(tmp_path, monkeypatch):
    """Every test gets its own jobs root, so no real job folder is listed or written."""
    root = tmp_path / "jobs"
    monkeypatch.setenv("PARTKD_JOBS", str(root))
    monkeypatch.chdir(ROOT)
    return root


def run(page: str) -> AppTest:
    """Run one page script and fail on any uncaught exception."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=TIMEOUT).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> list[dict]:
    """The Plotly figures of a page as dicts."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def array(value: list | dict) -> np.ndarray:
    """A figure array from Plotly JSON: a plain list, or a typed array {dtype, bdata (base64), shape}."""
    if isinstance(value, dict):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(n) for n in str(shape).split(",")]) if shape else flat
    return np.asarray(value, dtype=float)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_without_exception(page):
    at = run(page)
    assert not errors(at)
    assert at.title


def test_home_says_what_is_loaded_and_links_every_page():
    at = run("app.py")
    text = " ".join(m.value for m in at.markdown)
    assert "synthetic actions" in text and "teacher" in text.lower()
    assert len(at.get("page_link")) == 5


def test_skeleton_widgets_change_the_figure():
    at = run("pages/1_Skeletons.py")
    (before,) = charts(at)
    assert len(before["frames"]) > 1 and before["data"][0]["type"] == "scatter3d"
    occluded = -1  # last trace: the hollow markers of the low-quality panel

    def hidden(fig: dict) -> int:
        return sum(x is not None for x in fig["frames"][0]["data"][occluded]["x"])

    at.slider(key="w_op").set_value(0.8).run()
    assert not at.exception
    (heavy,) = charts(at)
    assert hidden(heavy) > hidden(before)
    at.slider(key="w_op").set_value(0.0).run()
    assert hidden(charts(at)[0]) == 0

    at.selectbox(key="w_occ_mode").set_value("part").run()
    at.multiselect(key="w_occ_parts").set_value(["left_arm"]).run()
    assert not at.exception
    (part,) = charts(at)
    assert hidden(part) == 3  # COCO-17 left arm: shoulder, elbow, wrist

    at.selectbox(key="w_level").set_value("heavy").run()
    at.number_input(key="w_occ_seed").set_value(3).run()
    at.toggle(key="show_hidden").set_value(False).run()
    assert not at.exception
    assert hidden(charts(at)[0]) == 0


def test_class_and_clip_pickers_switch_the_clip():
    at = run("pages/1_Skeletons.py")
    first = charts(at)[0]["frames"][0]["data"][5]["x"]
    classes = at.selectbox(key="w_cls").options
    at.selectbox(key="w_cls").set_value(classes[3]).run()
    assert not at.exception
    assert charts(at)[0]["frames"][0]["data"][5]["x"] != first


def test_unreadable_dataset_is_a_readable_error():
    at = run("pages/1_Skeletons.py")
    at.sidebar.radio(key="w_src").set_value("folder or file").run()
    at.sidebar.text_input(key="w_data_path").set_value("/nonexistent/dataset").run()
    assert not at.exception
    assert any("nonexistent" in e for e in errors(at))
    assert at.sidebar.radio(key="w_src").value == "folder or file"


def test_train_page_resolves_a_run_config(tmp_path):
    """The Train form shows the resolved TOML the job will run; the CLI reads that file back to the same configs."""
    import tomllib

    from partkd.cli import build_parser
    from partkd.cli_train import _run_file, _spec, _train_cfg
    from partkd.engine.config import StudentConfig, student_config_from_dict, to_dict, train_preset

    at = run("pages/2_Train.py")
    at.radio(key="t_kind").set_value("Student (low quality)").run()
    at.selectbox(key="t_kd").set_value("none").run()
    at.slider(key="t_op").set_value(0.3).run()                       # the OP slider is generated from the schema
    text = at.code[0].value
    config = tomllib.loads(text)
    assert config["kind"] == "train-student" and "teacher" not in config
    assert config["student"] == {**to_dict(StudentConfig()), "kd": "none", "op": 0.3}
    assert config["train"] == {k: v for k, v in to_dict(train_preset("cpu")).items() if v is not None}
    assert config["data"]["source"] == "synthetic" and config["data"]["clips_per_class"] == 12
    path = tmp_path / "config.toml"
    path.write_text(text)
    args = build_parser().parse_args(["train-student", "--config", str(path), "--out", str(tmp_path / "o")])
    file = _run_file(args, "train-student")
    assert _train_cfg(args, file) == train_preset("cpu")
    assert student_config_from_dict(file["student"]) == StudentConfig(kd="none", op=0.3)
    assert to_dict(_spec(args, file["data"])) == {**to_dict(_spec(args, file["data"])), **config["data"]}
    at.selectbox(key="t_kd").set_value("pmsc").run()
    at.text_input(key="t_teacher").set_value("").run()
    assert not at.exception and any("teacher" in e for e in errors(at))
    assert at.button(key="t_submit").disabled


def _wait_done(root: Path, timeout: float = 150.0) -> dict:
    from partkd.engine import jobs

    deadline = time.time() + timeout
    while time.time() < deadline:
        (job,) = jobs.list_jobs(root)
        if job["status"] in jobs.FINISHED:
            return job
        time.sleep(1.0)
    pytest.fail(f"job did not finish in {timeout} s: {jobs.read_log(job['id'], root)}")


def test_smoke_teacher_job_starts_and_finishes_from_the_train_page(jobs_root):
    at = run("pages/2_Train.py")
    at.selectbox(key="t_preset").set_value("smoke").run()
    at.number_input(key="t_epochs").set_value(1).run()
    at.button(key="t_submit").click().run()
    assert not at.exception and not errors(at)
    job = _wait_done(jobs_root)
    assert job["status"] == "done", job.get("error")
    config = Path(job["argv"][job["argv"].index("--config") + 1])
    assert job["argv"][0] == "train-teacher" and config == jobs_root / job["id"] / "config.toml"
    import tomllib

    from partkd.checkpoints import read_meta

    meta = read_meta(jobs_root / job["id"] / "run")
    assert tomllib.loads(config.read_text())["train"] == {k: v for k, v in meta["train"].items() if v is not None}
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["status"]) == ["done"]
    assert any(m.value == "done" for m in at.metric)
    from partkd.engine import jobs

    (ckpt,) = jobs.checkpoints(job["id"], jobs_root)
    at = run("pages/3_Part_efficiency.py")  # the finished run's teacher is now offered in the pickers
    assert any(job["id"] in o for o in at.sidebar.selectbox(key="w_ckpt_teacher").options), ckpt


@needs_checkpoints
def test_heatmap_holds_the_checkpoints_e():
    meta = json.loads(SHIPPED["teacher"].read_text())
    at = run("pages/3_Part_efficiency.py")
    (fig,) = charts(at)
    hm = fig["data"][0]
    assert hm["type"] == "heatmap"
    z = array(hm["z"])
    assert z.shape == (len(meta["class_names"]), 5)
    assert np.allclose(z, np.asarray(meta["E_raw"], dtype=float))
    assert list(hm["y"]) == meta["class_names"]
    at.radio(key="E_matrix").set_value("softmax").run()
    assert np.allclose(array(charts(at)[0]["data"][0]["z"]), np.asarray(meta["E"], dtype=float))
    assert any("exactly the KD student's part weights" in c.value for c in at.caption)
    at.number_input(key="E_temperature").set_value(0.1).run()
    sharp = array(charts(at)[0]["data"][0]["z"])
    raw = np.asarray(meta["E_raw"], dtype=float)
    expected = np.exp((raw - raw.max(1, keepdims=True)) / 0.1)
    assert np.allclose(sharp, expected / expected.sum(1, keepdims=True), atol=1e-6)
    at.radio(key="E_matrix").set_value("probability drop").run()
    assert not at.exception
    if "E_drop" in meta:
        assert np.allclose(array(charts(at)[0]["data"][0]["z"]), np.asarray(meta["E_drop"], dtype=float))
    else:
        assert any("no probability-drop matrix" in e for e in errors(at))
    if "E_truth" in meta:
        assert any("Against the known carrier parts" in m.value for m in at.markdown)
    at.radio(key="E_matrix").set_value("miss rate").run()
    at.selectbox(key="E_sort").set_value("left_arm").run()
    at.radio(key="E_view").set_value("bars per class").run()
    assert not at.exception and charts(at)[0]["data"][0]["type"] == "bar"


@needs_checkpoints
def test_compare_shows_three_top5_and_jumps_to_a_disagreement():
    at = run("pages/4_Compare.py")
    figs = charts(at)
    assert len(figs) == 4  # animation + teacher + two students
    assert all(len(f["data"][0]["y"]) == 5 for f in figs[1:])
    at.button(key="cmp_jump").click().run()
    assert not at.exception and not errors(at)


@needs_checkpoints
def test_robustness_curves_and_table():
    at = run("pages/5_Robustness.py")
    assert not errors(at)
    curves = charts(at)[0]
    assert len(curves["data"]) == 3 and len(curves["data"][0]["x"]) == 10
    table = at.dataframe[0].value
    assert list(table.columns) == ["model", "OP 0", "OP 0.3", "OP 0.6"] and len(table) == 3


@needs_checkpoints
def test_checkpoint_for_another_layout_is_a_readable_error():
    at = run("pages/4_Compare.py")
    at.sidebar.selectbox(key="w_low_layout").set_value("openpose18").run()
    assert not at.exception
    assert sum("layout" in e for e in errors(at)) == 2  # both students were trained on COCO-17
    assert len(charts(at)) == 2  # the animation and the teacher still work


@needs_checkpoints
def test_student_in_the_teacher_picker_is_a_readable_error():
    at = run("pages/4_Compare.py")
    at.sidebar.selectbox(key="w_ckpt_teacher").set_value("other path…").run()
    at.sidebar.text_input(key="w_ckpt_teacher_path").set_value(str(SHIPPED["student_pmsc"])).run()
    assert not at.exception
    assert any("needs a teacher" in e for e in errors(at))


def test_h36m_real_detections_with_projected_overlay(shared_data):
    """Human3.6M from the sidebar: real detections beside the motion capture, the projected ground truth beneath."""
    if not (shared_data / "h36m").is_dir():
        pytest.skip("Human3.6M not in ../shared/data")
    at = AppTest.from_file(str(ROOT / "pages/1_Skeletons.py"), default_timeout=TIMEOUT)
    at.session_state["_kept_src"] = "folder or file"
    at.session_state["_kept_data_path"] = str(shared_data / "h36m")
    at.run()
    assert not at.exception and not errors(at)
    assert at.radio(key="w_low_source").value == "real"
    fig = charts(at)[0]
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert "h36m17" in titles[0] and "mpii16" in titles[1] and "real detections" in titles[1]
    assert len(fig["data"]) == 2 * viz.TRACES_PER_PANEL + 1 and fig["data"][-1]["name"] == "ground truth (projected)"
    caption = " ".join(c.value for c in at.caption)
    px = float(caption.split("mean ")[1].split(" px")[0])
    assert 0.0 < px < 60.0                                # detections lie near the projected motion capture
    at.toggle(key="show_reference").set_value(False).run()
    assert len(charts(at)[0]["data"]) == 2 * viz.TRACES_PER_PANEL
