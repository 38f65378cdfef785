"""The Streamlit app under streamlit.testing.v1.AppTest: every page runs, widgets change figures, errors stay readable."""
import base64
import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from partkd import viz

from helpers import jobs_root, run_page  # noqa: F401 (jobs_root: an autouse fixture)

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["home", "skeletons", "train", "part_efficiency", "compare", "robustness"]
SHIPPED = {name: ROOT / "checkpoints" / f"{name}.json" for name in ("teacher", "student_nokd", "student_pmsc")}
needs_checkpoints = pytest.mark.skipif(not all(p.exists() for p in SHIPPED.values()),
                                       reason="shipped checkpoints (checkpoints/teacher.*, student_*.*) not built yet")
TIMEOUT = 120


def run(page: str = "home", session: dict | None = None) -> AppTest:
    """The app at one page, failing on any uncaught exception."""
    return run_page(page, session, TIMEOUT)


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
    at = run("home")
    text = " ".join(m.value for m in at.markdown)
    assert "synthetic actions: 10 classes × 100 clips" in text and "teacher" in text.lower()
    assert len(at.get("page_link")) == 5
    assert not any("None" in str(v) for v in at.dataframe[0].value.to_numpy().ravel())


def test_skeleton_widgets_change_the_figure():
    at = run("skeletons")
    before, modality = charts(at)                                     # the animation, then the modality heatmaps
    assert modality["data"][0]["type"] == "heatmap"
    assert len(before["frames"]) > 1 and before["data"][0]["type"] == "scatter3d"
    occluded = -1  # last trace: the hollow markers of the low-quality panel

    def hidden(fig: dict) -> int:
        return sum(x is not None for x in fig["frames"][0]["data"][occluded]["x"])

    at.slider(key="w_op").set_value(0.8).run()
    assert not at.exception
    heavy = charts(at)[0]
    assert hidden(heavy) > hidden(before)
    at.slider(key="w_op").set_value(0.0).run()
    assert hidden(charts(at)[0]) == 0

    at.selectbox(key="w_occ_mode").set_value("part").run()
    at.multiselect(key="w_occ_parts").set_value(["left_arm"]).run()
    assert not at.exception
    part = charts(at)[0]
    assert hidden(part) == 3  # COCO-17 left arm: shoulder, elbow, wrist

    at.number_input(key="w_occ_seed").set_value(3).run()
    at.toggle(key="show_hidden").set_value(False).run()
    assert not at.exception
    assert hidden(charts(at)[0]) == 0


@needs_checkpoints
def test_skeletons_and_compare_hide_the_same_joints_over_the_same_frames():
    """For one clip, OP, mode and seed, the Skeletons page draws the frames the students read and hides the joints
    that the Compare page's animated student input (the scored test set) hides, frame by frame."""

    def hidden_per_frame(fig: dict) -> list[int]:
        return [sum(x is not None for x in f["data"][-1]["x"]) for f in fig["frames"]]

    session = {"w_op": 0.6}
    skeletons = run("skeletons", session)
    compare = run("compare", session)
    assert not errors(skeletons) and not errors(compare)
    shown = charts(skeletons)[0]
    scored = next(c for c in charts(compare) if c.get("frames"))
    assert len(shown["frames"]) == len(scored["frames"]) == 32                  # the students' T, not the 45 recorded
    assert hidden_per_frame(shown) == hidden_per_frame(scored) and sum(hidden_per_frame(shown)) > 0
    assert any("32 frames" in c.value and "as the models are scored" in c.value for c in skeletons.caption)


def test_class_and_clip_pickers_switch_the_clip():
    at = run("skeletons")
    first = charts(at)[0]["frames"][0]["data"][5]["x"]
    classes = at.selectbox(key="w_cls").options
    at.selectbox(key="w_cls").set_value(classes[3]).run()
    assert not at.exception
    assert charts(at)[0]["frames"][0]["data"][5]["x"] != first


def test_unreadable_dataset_is_a_readable_error():
    at = run("skeletons")
    at.sidebar.radio(key="w_src").set_value("folder or file").run()
    at.sidebar.text_input(key="w_data_path").set_value("/nonexistent/dataset").run()
    assert not at.exception
    assert any("nonexistent" in e for e in errors(at))
    assert at.sidebar.radio(key="w_src").value == "folder or file"


def test_train_page_resolves_a_run_config(tmp_path):
    """The Train form shows the resolved TOML the job will run; the CLI reads that file back to the same configs."""
    import tomllib

    from dataclasses import replace

    from partkd.cli import build_parser
    from partkd.cli_train import _run_file, _spec, _train_cfg
    from partkd.engine.config import StudentConfig, student_config_from_dict, to_dict, train_preset
    from partkd.training_cost import precision_used

    def resolved(cfg):  # the form records the precision the run trains in on this machine
        return replace(cfg, precision=precision_used(cfg))

    at = run("train")
    at.radio(key="t_kind").set_value("Student (low quality)").run()
    at.selectbox(key="t_kd").set_value("none").run()
    at.slider(key="t_op").set_value(0.3).run()                       # the OP slider is generated from the schema
    text = at.code[0].value
    config = tomllib.loads(text)
    assert config["kind"] == "train-student" and "teacher" not in config
    assert config["student"] == {**to_dict(StudentConfig()), "kd": "none", "op": 0.3}
    assert config["train"] == {k: v for k, v in to_dict(resolved(train_preset("cpu"))).items() if v is not None}
    assert config["data"]["source"] == "synthetic" and config["data"]["clips_per_class"] == 100
    path = tmp_path / "config.toml"
    path.write_text(text)
    args = build_parser().parse_args(["train-student", "--config", str(path), "--out", str(tmp_path / "o")])
    file = _run_file(args, "train-student")
    assert _train_cfg(args, file) == resolved(train_preset("cpu"))
    assert student_config_from_dict(file["student"]) == StudentConfig(kd="none", op=0.3)
    assert to_dict(_spec(args, file["data"])) == {**to_dict(_spec(args, file["data"])), **config["data"]}
    at.multiselect(key="t_modalities").set_value(["b", "j"]).run()    # a multi-stream run with fitted fusion
    at.checkbox(key="t_ikem").check().run()
    at.number_input(key="t_fusion_holdout").set_value(0.1).run()
    path.write_text(at.code[0].value)
    expect = resolved(train_preset("cpu", modalities=("j", "b"), ikem=True, fusion_holdout=0.1))  # schema order
    assert _train_cfg(args, _run_file(args, "train-student")) == expect
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
    at = run("train")
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
    asked = tomllib.loads(config.read_text())["train"]
    assert asked["modalities"] == [] and meta["train"]["modalities"] == ["j"]   # none named: a 3D teacher reads joints
    assert asked == {k: v for k, v in meta["train"].items() if v is not None} | {"modalities": []}
    assert job["phase"] == 1 and {"E", "E_shapley", "E_ci"} <= set(meta)   # the job's last phase computed E
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["status"]) == ["done"]
    assert any(m.value == "done" for m in at.metric)
    from partkd_app.downloads import DOWNLOADS

    history = at.session_state[DOWNLOADS]["history"]                  # the curves download as figure and CSV
    assert history["png"]()[:4] == b"\x89PNG" and history["csv"]().startswith("epoch,loss")
    from partkd.engine import jobs

    (ckpt,) = jobs.checkpoints(job["id"], jobs_root)
    at = run("part_efficiency")  # the finished run's teacher is now offered in the pickers
    assert any(job["id"] in o for o in at.sidebar.selectbox(key="w_ckpt_teacher").options), ckpt


@needs_checkpoints
def test_heatmap_holds_the_checkpoints_e():
    from partkd.checkpoints import read_meta
    from partkd.distill.efficiency import cell_flags
    from partkd.engine.config import StudentConfig
    from partkd.engine.student import part_weights

    meta = json.loads(SHIPPED["teacher"].read_text())
    at = run("part_efficiency")
    assert at.radio(key="E_matrix").value == "Shapley value"      # the measured most truthful definition first
    fig = charts(at)[0]
    hm = fig["data"][0]
    assert hm["type"] == "heatmap"
    z = array(hm["z"])
    assert z.shape == (len(meta["class_names"]), 5)
    assert np.allclose(z, np.asarray(meta["E_shapley"], dtype=float))
    assert list(hm["y"]) == meta["class_names"]
    ci = meta["E_ci"]["shapley"]
    flags = cell_flags(meta["E_shapley"], ci["lo"], ci["hi"], zero_tol=0.01)
    veils = [d for d in fig["data"][1:] if d["type"] == "heatmap"]
    assert len(veils) == 1 and np.array_equal(~np.isnan(array(veils[0]["z"]).reshape(z.shape)), flags["uncertain"])
    notes = [a["y"] for a in fig["layout"].get("annotations", []) if "no single part" in a["text"]]
    assert notes == [c for c, f in zip(meta["class_names"], flags["none_needed"]) if f]
    assert np.allclose(array(hm["customdata"]).reshape(z.shape + (2,))[..., 0], ci["lo"])
    at.radio(key="E_matrix").set_value("softmax").run()
    student = read_meta(ROOT / "checkpoints" / "student_pmsc.safetensors")["kd"]
    assert at.number_input(key="E_temperature").value == student["efficiency_temperature"] == 0.2
    own = part_weights(meta, StudentConfig(efficiency=student["efficiency"], efficiency_temperature=0.2))
    assert np.allclose(array(charts(at)[0]["data"][0]["z"]), own)
    assert any("exactly the KD student's part weights" in c.value for c in at.caption)
    at.number_input(key="E_temperature").set_value(0.1).run()
    sharp = array(charts(at)[0]["data"][0]["z"])
    raw = np.asarray(meta["E_shapley"], dtype=float)                    # the student's source at another temperature
    expected = np.exp((raw - raw.max(1, keepdims=True)) / 0.1)
    assert np.allclose(sharp, expected / expected.sum(1, keepdims=True), atol=1e-6)
    at.radio(key="E_matrix").set_value("probability drop").run()
    assert np.allclose(array(charts(at)[0]["data"][0]["z"]), np.asarray(meta["E_drop"], dtype=float))
    assert any("Against the known carrier parts" in m.value for m in at.markdown)
    assert any("**wave**: right arm" in m.value and "carriers: right arm" in m.value for m in at.markdown)
    at.radio(key="E_matrix").set_value("miss rate (eq. 12)").run()
    assert np.allclose(array(charts(at)[0]["data"][0]["z"]), np.asarray(meta["E_raw"], dtype=float))
    at.selectbox(key="E_sort").set_value("left_arm").run()
    at.radio(key="E_view").set_value("bars per class").run()
    assert not at.exception and charts(at)[0]["data"][0]["type"] == "bar"


@needs_checkpoints
def test_part_efficiency_warns_when_the_sidebar_data_is_not_the_teachers():
    """Another synthetic seed: same classes, so the shipped teacher still fits, but its E was computed on other data:
    the page says so and explains no clip of data the teacher was not trained on."""
    at = run("part_efficiency")
    assert not any("not the data this teacher was trained on" in w.value for w in at.warning)
    at = run("part_efficiency", {"w_synth_seed": 1})
    assert any("not the data this teacher was trained on" in w.value for w in at.warning)
    assert any("Pick the data this teacher was trained on" in i.value for i in at.info)


@needs_checkpoints
def test_part_efficiency_explains_the_sidebar_clip_as_the_cli_does():
    """The page's per-clip explanation equals engine.explain (what `partkd explain` prints) for the sidebar's clip,
    and its skeleton joints are sized by the chosen method's importance."""
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.data import load_paired
    from partkd.engine.explain import explain_dataset_clip
    from partkd.engine.reproduce import load_recipe

    at = run("part_efficiency")
    clip = at.sidebar.selectbox(key="w_clip").value
    figs = {json.loads(el.proto.spec).get("layout", {}).get("title", {}).get("text", ""): json.loads(el.proto.spec)
            for el in at.get("plotly_chart")}
    assert any(t.startswith("Deletion curves") for t in figs)
    high = load_paired(load_recipe(ROOT / "configs" / "app_default.toml").data).high
    want = explain_dataset_clip(load_checkpoint(ROOT / "checkpoints" / "teacher.safetensors"), high, clip)
    deletion = next(f for t, f in figs.items() if t.startswith("Deletion curves"))
    for trace, (name, m) in zip(deletion["data"], want["methods"].items()):
        assert trace["name"].startswith(name) and np.allclose(array(trace["y"]), m["deletion"], atol=1e-6)
    assert any(f"Clip **{high.names[clip]}**" in c.value for c in at.caption)
    at.radio(key="X_method").set_value("gradcam").run()
    skeleton = next(f for t, f in ((json.loads(el.proto.spec).get("layout", {}).get("title", {}).get("text", ""),
                                    json.loads(el.proto.spec)) for el in at.get("plotly_chart")) if t.startswith("gradcam"))
    sizes = array(skeleton["data"][1]["marker"]["size"])
    joints = np.clip(np.asarray(want["methods"]["gradcam"]["joints"]), 0, None)
    w0 = joints[0] / joints.max()
    assert np.allclose(sizes, 5 + 22 * w0, atol=1e-6)  # frame 0 lies in the first window


@needs_checkpoints
def test_compare_draws_the_paper_figure_and_finds_a_paper_clip():
    at = run("compare")
    assert len(at.get("image")) == 1                                 # Figs. 6-7 as one image
    figs = charts(at)
    assert len(figs) == 4  # animation + teacher + two students
    assert all(len(f["data"][0]["y"]) == 5 for f in figs[1:])
    visited = [at.sidebar.selectbox(key="w_clip").value]
    for _ in range(3):                                          # the button steps through the paper's clips
        at.button(key="cmp_paper").click().run()
        assert not at.exception and not errors(at)
        visited.append(at.sidebar.selectbox(key="w_clip").value)
    shown = int(at.success[0].value.split(" of ")[0])
    assert all(a != b for a, b in zip(visited[1:], visited[2:])) or shown == 1
    assert {b.proto.label for b in at.get("download_button")} == {"PNG", "PDF", "SVG", "CSV"}


@needs_checkpoints
def test_robustness_curves_and_table():
    at = run("robustness")
    assert not errors(at)
    curves = charts(at)[0]
    lines = [t for t in curves["data"] if t["mode"] == "lines+markers"]
    assert len(lines) == 3 and len(lines[0]["x"]) == 10
    stars = [t for t in curves["data"] if t["mode"] == "markers"]      # the students' training OP (0.6), marked
    assert [array(t["x"]).tolist() for t in stars] == [[0.6], [0.6]]
    band = lines[1]["error_y"]
    assert (array(band["array"]) > 0).all() and (array(band["arrayminus"]) > 0).all()   # 95 % intervals
    assert any("'sequence' occlusion (each joint zeroed for the whole clip" in c.value for c in at.caption)
    assert not any(" s since" in c.value or "/work/" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert list(table.columns) == ["model", "OP 0", "OP 0.3", "OP 0.6"] and len(table) == 3
    assert list(table.iloc[0, 2:]) == ["", ""]                     # the teacher: clean data only, blank not None


@needs_checkpoints
def test_robustness_curves_are_the_engines_accuracy_vs_op():
    """A model's curve on the Robustness page is engine.evaluate.accuracy_vs_op on its test split with the sidebar's
    mode and seed: the same numbers, point for point."""
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.config import data_spec_from_dict
    from partkd.io import load_toml
    from partkd.engine.data import load_paired
    from partkd.engine.evaluate import accuracy_vs_op
    from partkd.report import CURVE_OPS

    at = run("robustness", {"w_occ_seed": 2})
    curve = next(t for t in charts(at)[0]["data"] if t["name"] == "Student with KD")
    data = load_paired(data_spec_from_dict(load_toml(ROOT / "configs" / "app_default.toml")["data"]))
    loaded = load_checkpoint(ROOT / "checkpoints" / "student_pmsc.safetensors")
    want = accuracy_vs_op(loaded, data.low.by_split("test"), list(CURVE_OPS), seed=2)
    assert np.array_equal(array(curve["x"]), [p["op"] for p in want])
    assert np.array_equal(array(curve["y"]), [p["top1"] for p in want])


@needs_checkpoints
def test_pickers_offer_only_checkpoints_that_fit_the_data():
    at = run("compare")
    assert any("student_pmsc" in o for o in at.sidebar.selectbox(key="w_ckpt_kd").options)
    at.sidebar.selectbox(key="w_low_layout").set_value("openpose18").run()
    assert not at.exception
    for role in ("nokd", "kd"):                                   # both students were trained on COCO-17
        assert not any("student" in o for o in at.sidebar.selectbox(key=f"w_ckpt_{role}").options)
    hints = [c.value for c in at.sidebar.caption if "fits this data" in c.value]
    assert len(hints) == 2 and all("Train page" in h and "min with the cpu preset" in h for h in hints)
    assert any("student_pmsc" not in o for o in at.sidebar.selectbox(key="w_ckpt_teacher").options)


@needs_checkpoints
def test_student_in_the_teacher_picker_is_a_readable_error():
    at = run("compare")
    at.sidebar.selectbox(key="w_ckpt_teacher").set_value("other path…").run()
    at.sidebar.text_input(key="w_ckpt_teacher_path").set_value(str(SHIPPED["student_pmsc"])).run()
    assert not at.exception
    assert any("needs a teacher" in e for e in errors(at))


def test_h36m_real_detections_with_projected_overlay(shared_data):
    """Human3.6M from the sidebar: real detections beside the motion capture, the projected ground truth beneath."""
    if not (shared_data / "h36m").is_dir():
        pytest.skip("Human3.6M not in ../shared/data")
    at = run("skeletons", {"w_src": "folder or file", "w_data_path": str(shared_data / "h36m")})
    assert not errors(at)
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


def test_the_occlusion_shown_is_the_occlusion_drawn_after_switching_the_data(shared_data):
    """A state bug found in a browser walk: after switching the sidebar to a dataset folder, the page's OP slider and the
    figure's title disagreed, and both the sidebar and the page had an estimator-level control. Now the low-quality
    view lives once, in the sidebar, and the figure is drawn with exactly its values."""
    if not (shared_data / "penn_action").is_dir():
        pytest.skip("Penn Action not in ../shared/data")
    at = run("skeletons")
    at.sidebar.slider(key="w_op").set_value(0.45).run()
    at.sidebar.radio(key="w_src").set_value("folder or file").run()
    at.sidebar.text_input(key="w_data_path").set_value(str(shared_data / "penn_action")).run()
    assert not at.exception and not errors(at)
    assert at.sidebar.slider(key="w_op").value == 0.45
    title = [a["text"] for a in charts(at)[0]["layout"]["annotations"]][1]
    level = at.sidebar.selectbox(key="w_data_level").value
    assert f"OP {0.45:.2f}" in title and f"{level} estimator" in title
    levels = [s for s in at.selectbox if "estimator" in s.label.lower()]
    assert len(levels) == 1 and levels[0].key == "w_data_level"          # one control, in the sidebar


@needs_checkpoints
def test_compare_robustness_and_evaluate_agree():
    """One occlusion protocol: the Robustness table, the Compare page's probabilities and the engine's evaluate give
    the same numbers for the same checkpoint, data and seed."""
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.data import load_paired
    from partkd.engine.config import data_spec_from_dict
    from partkd.io import load_toml
    from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE
    from partkd.engine.evaluate import evaluate, occluded_inputs, predict_proba

    at = run("robustness")
    table = {r["model"]: r for r in at.dataframe[0].value.to_dict("records")}
    data = load_paired(data_spec_from_dict(load_toml(ROOT / "configs" / "app_default.toml")["data"]))
    for name, label in (("student_nokd", "Student without KD"), ("student_pmsc", "Student with KD")):
        loaded = load_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors")
        for op in (0.0, 0.3, 0.6):
            top1 = evaluate(loaded, data.low.by_split("test"), op=op, seed=0)["top1"]
            assert table[label][f"OP {op:g}"] == f"{100 * top1:.2f}", (name, op)
    at = run("compare", {"w_op": 0.6})
    clip_name = at.sidebar.selectbox(key="w_clip").value
    loaded = load_checkpoint(ROOT / "checkpoints" / "student_pmsc.safetensors")
    test = data.low.by_split("test")
    proba = predict_proba(loaded, occluded_inputs(loaded, test, 0.6, DEFAULT_OCCLUSION_MODE, 0)[1])
    row = int(np.flatnonzero(np.flatnonzero(data.high.split == "test") == clip_name)[0])
    bars = charts(at)[-1]["data"][0]
    assert np.allclose(sorted(array(bars["x"]), reverse=True), np.sort(proba[row])[::-1][:5], atol=1e-6)


@needs_checkpoints
def test_every_figure_downloads_as_png_pdf_svg_and_csv():
    from partkd_app.downloads import DOWNLOADS

    for page, keys in (("skeletons", ["skeletons", "modality"]), ("compare", ["grid", "at_op"]), ("robustness", ["curves", "parts"]),
                       ("part_efficiency", ["E"])):
        at = run(page)
        for key in keys:
            payloads = at.session_state[DOWNLOADS][key]
            assert payloads["png"]()[:8] == b"\x89PNG\r\n\x1a\n", (page, key)
            assert payloads["pdf"]()[:5] == b"%PDF-" and b"<svg" in payloads["svg"]()[:400]
            csv = payloads["csv"]()
            assert csv.count("\n") >= 2 and "," in csv.splitlines()[0], (page, key)
        labels = [b.proto.label for b in at.get("download_button")]
        assert labels.count("PNG") == len(keys) and labels.count("CSV") >= len(keys)


#: What a page shows where a model should be (the test below wants none of it on a shipped dataset).
MODEL_MISSING = ("No checkpoint is loaded", "No teacher checkpoint", "not loaded", "Load a student")


@pytest.mark.parametrize("name", ["penn_action", "nw_ucla", "h36m"])
def test_every_page_runs_on_a_shipped_real_dataset_with_its_models(shared_data, name):
    """Penn Action, NW-UCLA and Human3.6M picked by name in the sidebar: the shipped models of that dataset are
    picked, and every page runs without an error or a box where a model should be."""
    if not (shared_data / name).is_dir():
        pytest.skip(f"{name} not in ../shared/data")
    if not (ROOT / "checkpoints" / name / "teacher.json").is_file():
        pytest.skip(f"no shipped {name} checkpoints")
    session = {"w_src": name}
    for page in PAGES:
        at = run(page, session)
        assert not errors(at), (name, page, errors(at))
        boxes = [i.value for i in at.info if any(m in i.value for m in MODEL_MISSING)]
        assert not boxes, (name, page, boxes)
    picks = [at.sidebar.selectbox(key=f"w_ckpt_{role}").value for role in ("teacher", "nokd", "kd")]
    assert all(f"shipped {name}" in p for p in picks), picks
    assert at.sidebar.selectbox(key="w_clip").value is not None


@needs_checkpoints
def test_the_e_view_knows_every_method_that_weighs_parts_by_e():
    from partkd.efficiency_view import efficiency_view

    teacher = json.loads(SHIPPED["teacher"].read_text())
    for method in ("pmsc", "pmsc_relational"):
        kd = {"kd": {"method": method, "efficiency": "miss", "efficiency_temperature": 1.0}}
        _, what, normalized = efficiency_view(teacher, "softmax", 1.0, kd)
        assert normalized and what.startswith("Showing exactly the KD student's part weights") and method in what
    _, what, _ = efficiency_view(teacher, "softmax", 1.0, {"kd": {"method": "relational"}})
    assert "does not weight parts by E" in what
    other = {"kd": {"method": "pmsc", "efficiency": "miss", "efficiency_temperature": 1.0, "teacher": "/else/t.safetensors"}}
    E, what, normalized = efficiency_view(teacher, "softmax", 1.0, other, str(SHIPPED["teacher"]))
    assert "distilled from another teacher" in what and "exactly" not in what
    assert normalized and np.allclose(E, teacher["E"])


def test_skeletons_page_shows_a_derived_modality_with_its_missing_values():
    """The modality heatmaps are blank exactly where the value is missing: on the complete high-quality synthetic
    skeleton only the centre joint's bone and the last frame's motion; the caption's share is the figure's."""
    from partkd.layouts import get_layout

    from partkd_app.downloads import DOWNLOADS

    at = run("skeletons")
    assert at.selectbox(key="sk_modality").options[:3] == ["b: bone", "jm: joint motion", "bm: bone motion"]
    centre = get_layout("ntu25").center
    for name in ("b", "jm"):
        at.selectbox(key="sk_modality").set_value(name).run()
        fig = next(c for c in charts(at) if c["data"][0]["type"] == "heatmap")
        high, low = (np.asarray(array(fig["data"][i]["z"]), dtype=float) for i in (0, 1))   # (V, T)
        gaps = np.argwhere(np.isnan(high))
        if name == "b":
            assert set(gaps[:, 0]) == {centre} and len(gaps) == high.shape[1]
        else:
            assert set(gaps[:, 1]) == {high.shape[1] - 1} and len(gaps) == high.shape[0]
        caption = next(c.value for c in at.caption if "student's input" in c.value)
        assert f"student's input {np.isnan(low).mean():.0%}" in caption
        assert np.isnan(low).mean() > np.isnan(high).mean()            # occlusion removes derived values
    assert "modality" in at.session_state[DOWNLOADS]


def test_compare_page_shows_each_stream_and_the_fusion(tmp_path):
    """A two-stream student picked by path: the page lists each stream's top-1 and the fused one, and the fused row
    is the model's own prediction (the first bar of its top-5 chart)."""
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.config import DataSpec, StudentConfig, train_preset
    from partkd.engine.student import train_student
    from partkd_app.defaults import APP_DATA

    spec = DataSpec(**APP_DATA)
    path = train_student(train_preset("smoke", epochs=1, modalities=("j", "b")), StudentConfig(kd="none"), None,
                         spec, tmp_path / "two_stream")
    at = run("compare", {"w_ckpt_nokd": "other path…", "w_ckpt_nokd_path": str(path)})
    assert not errors(at)
    table = next(d.value for d in at.dataframe if list(d.value.columns)[:2] == ["stream", "top-1"])
    assert list(table["stream"]) == ["j (joint)", "b (bone)", "fused"]
    loaded = load_checkpoint(path)
    assert loaded.model.modalities == ("j", "b")
    probs = table["probability"].to_numpy()
    assert np.all((probs > 0) & (probs <= 1)) and set(table["right"]) <= {"✓", "✗"}
    bars = next(c for c in charts(at) if c["data"][0]["type"] == "bar" and "Student without KD" in c["layout"]["title"]["text"])
    first = str(bars["data"][0]["y"][0]).removeprefix("✓ ").removeprefix("✗ ")
    assert table["top-1"].iloc[-1] == first
    assert table["probability"].iloc[-1] == pytest.approx(float(array(bars["data"][0]["x"])[0]), abs=5e-4)


@needs_checkpoints
def test_the_shipped_results_draw_robustness_with_no_computation(monkeypatch, tmp_path):
    """On a cold cache the Robustness page of the shipped models reads checkpoints/results.json (made by
    benchmarks/ship_checkpoints.py) and evaluates nothing; the numbers are the engine's."""
    import partkd.engine.evaluate as evaluate
    from partkd.checkpoints import load_checkpoint
    from partkd.engine.config import data_spec_from_dict
    from partkd.engine.data import load_paired
    from partkd.io import load_toml
    from partkd.report import CURVE_OPS

    def refuse(*args, **kwargs):
        raise AssertionError("computed although shipped")

    want = {}
    data = load_paired(data_spec_from_dict(load_toml(ROOT / "configs" / "app_default.toml")["data"]))
    for name in ("student_nokd", "student_pmsc"):
        loaded = load_checkpoint(ROOT / "checkpoints" / f"{name}.safetensors")
        want[name] = [p["top1"] for p in evaluate.accuracy_vs_op(loaded, data.low.by_split("test"), list(CURVE_OPS))]
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(evaluate, "accuracy_vs_op", refuse)
    monkeypatch.setattr(evaluate, "part_sensitivity", refuse)
    at = run("robustness")
    assert not errors(at)
    traces = {t["name"]: array(t["y"]) for t in charts(at)[0]["data"]}
    assert np.array_equal(traces["Student without KD"], want["student_nokd"])
    assert np.array_equal(traces["Student with KD"], want["student_pmsc"])
    assert len(charts(at)[1]["data"]) == 3                      # the part sensitivity of all three models
