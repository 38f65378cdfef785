"""What a new user found walking every page (synthetic, Penn Action, NW-UCLA, Human3.6M): provenance under every
figure, one story about the data on every page, honest training settings and readable figures."""
import json
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from partkd.provenance import CODE_MARK, NO_CHECKPOINT, SHA_MARK

from helpers import jobs_root, run_page  # noqa: F401 (jobs_root: an autouse fixture)

ROOT = Path(__file__).resolve().parent.parent
HAVE_CHECKPOINTS = all((ROOT / "checkpoints" / f"{n}.json").exists() for n in ("teacher", "student_nokd", "student_pmsc"))
needs_checkpoints = pytest.mark.skipif(not HAVE_CHECKPOINTS, reason="shipped checkpoints not built yet")
TIMEOUT = 180
#: Pages whose figures carry provenance.
PROVENANCE_PAGES = ["skeletons", "part_efficiency", "compare", "robustness"]
FIGURES = ("plotly_chart", "image")
HEADINGS = ("title", "header", "subheader")


def run(page: str = "home", session: dict | None = None) -> AppTest:
    return run_page(page, session, TIMEOUT)


def leaves(node) -> list:
    """The page's elements in the order they are drawn (blocks such as columns opened)."""
    out = []
    for child in getattr(node, "children", {}).values():
        out += leaves(child) if getattr(child, "children", None) else [child]
    return out


def figure_captions(at: AppTest) -> list[str | None]:
    """For every figure, the first caption drawn after it (None when a heading or the page's end comes first)."""
    out: list[str | None] = []
    pending = 0
    for el in leaves(at.main):
        if el.type in FIGURES:
            pending += 1
        elif pending and (el.type == "caption" or el.type in HEADINGS):
            out += [el.value if el.type == "caption" else None] * pending
            pending = 0
    return out + [None] * pending


def provenance_ok(text: str | None, checkpoints: bool = True) -> bool:
    """A caption carries the marks: the code version and the weights' sha256 (or says no checkpoint made it)."""
    if text is None or CODE_MARK not in text or "/" in text or " s since" in text:
        return False
    return SHA_MARK in text if checkpoints else NO_CHECKPOINT in text


@needs_checkpoints
@pytest.mark.parametrize("page", PROVENANCE_PAGES)
def test_every_caption_under_a_figure_names_data_checkpoints_and_code(page):
    at = run(page)
    captions = figure_captions(at)
    assert captions, page
    assert all(provenance_ok(c) for c in captions), captions  # Skeletons too: it draws the student's input frames
    assert all(" sha256" not in c or "sha256 " in c for c in captions if c)


@needs_checkpoints
def test_skeletons_without_a_student_say_no_checkpoint_drew_them():
    at = run("skeletons", {"w_ckpt_nokd": "(none)", "w_ckpt_kd": "(none)"})
    captions = figure_captions(at)
    assert captions and all(provenance_ok(c, checkpoints=False) for c in captions), captions
    assert any("frames as recorded, a per-clip mask (no student is loaded)" in c.value for c in at.caption)


def test_home_shows_the_sidebars_data_error_not_a_data_line_and_no_model_advice():
    at = run("home", {"w_src": "folder or file", "w_data_path": "/etc/hostname"})
    sidebar = [e.value for e in at.sidebar.error]
    main = [e.value for e in at.main.error]
    assert sidebar and main == sidebar
    assert not any("/etc/hostname" in m.value for m in at.main.markdown)
    assert not any("No checkpoint is loaded" in i.value for i in at.info)


def write_train_only(folder: Path) -> Path:
    """A dataset folder holding one npz whose clips are all in the train split (like Kinetics' seven samples)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = 6
    np.savez(folder / "trainonly.npz", keypoint=rng.normal(size=(n, 1, 12, 17, 2)).astype(np.float32),
             label=np.arange(n) % 3, split=np.array(["train"] * n), class_names=np.array(["a", "b", "c"]),
             layout=np.array("coco17"))
    return folder


def test_a_dataset_without_a_test_split_is_not_offered_for_training(tmp_path, monkeypatch):
    """Discovered by name, loaded, then said once: the sidebar, Home and the Train page give the same line, no picker
    suggests training on it and the Train page starts nothing."""
    monkeypatch.setattr(sys, "argv", ["app.py", "--data-root", str(write_train_only(tmp_path / "root"))])
    at = run("home", {"w_src": "trainonly.npz"})
    (warning,) = [w.value for w in at.sidebar.warning]
    assert warning.startswith("trainonly.npz has no test clip (6 clips: 6 train, 0 test)")
    assert "neither for training nor for evaluation" in warning
    assert [w.value for w in at.main.warning] == [warning]
    assert not any("Train page" in c.value for c in at.sidebar.caption)
    at.switch_page("partkd_app/pages/train.py").run()
    assert not at.exception and [e.value for e in at.main.error] == [warning]
    assert at.button(key="t_submit").disabled


def test_the_train_form_shows_the_precision_the_run_will_use(monkeypatch):
    import partkd.engine.evaluate as evaluate

    monkeypatch.setattr(evaluate, "cpu_has_bf16_units", lambda: False)
    at = run("train", {"t_device": "cpu"})
    assert tomllib.loads(at.code[0].value)["train"]["precision"] == "fp32"
    assert any("Precision: **fp32**" in m.value for m in at.caption)
    monkeypatch.setattr(evaluate, "cpu_has_bf16_units", lambda: True)
    at.run()
    assert tomllib.loads(at.code[0].value)["train"]["precision"] == "bf16"


def test_a_teacher_trained_in_the_app_drops_parts_and_joints_by_default():
    at = run("train", {"t_device": "cpu"})
    train = tomllib.loads(at.code[0].value)["train"]
    assert (train["part_dropout"], train["joint_dropout"]) == (0.5, 0.1)
    at.slider(key="t_part_dropout").set_value(0.0).run()
    assert tomllib.loads(at.code[0].value)["train"]["part_dropout"] == 0.0


def test_each_job_has_its_own_name_and_a_teacher_job_ends_computing_e(monkeypatch, jobs_root):
    """Three teacher jobs on the same data: three readable, distinct names; each teacher job computes E (`partkd
    part-matrix` on its run folder) as its last phase. No worker runs here: the jobs stay queued."""
    from partkd.engine import jobs

    monkeypatch.setattr(jobs, "_ensure_worker", lambda base: None)
    at = run("train", {"t_device": "cpu"})
    for _ in range(3):
        at.button(key="t_submit").click().run()
        assert not at.exception
    names = list(at.dataframe[0].value["name"])
    assert names == ["teacher · synthetic #3", "teacher · synthetic #2", "teacher · synthetic"]
    for job in jobs.list_jobs(jobs_root):
        run_dir = str(jobs_root / job["id"] / "run")
        assert job["argv"][0] == "train-teacher"
        assert job["then"] == [["part-matrix", run_dir, "--out", run_dir, "--device", "cpu"]]


@needs_checkpoints
def test_part_names_read_the_same_in_the_menu_and_the_figure():
    at = run("part_efficiency")
    options = at.selectbox(key="E_sort").options
    heatmap = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert options[1:] == list(heatmap["x"]) == ["head", "left arm", "right arm", "left leg", "right leg"]
    assert at.sidebar.multiselect(key="w_occ_parts").options == options[1:]


@needs_checkpoints
def test_the_model_pickers_list_their_full_names_in_their_help():
    at = run("home")
    for role in ("teacher", "nokd", "kd"):
        box = at.sidebar.selectbox(key=f"w_ckpt_{role}")
        named = [o for o in box.options if o not in ("(none)", "other path…")]
        assert named and all(f"- {o}" in box.help for o in named), box.help


def test_the_joint_heatmaps_name_every_joint_and_give_their_unit():
    at = run("skeletons")
    fig = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if json.loads(c.proto.spec)["data"][0]["type"] == "heatmap")
    for k, axis in (("", "yaxis"), ("2", "yaxis2")):
        joints = list(fig["data"][int(k or 1) - 1]["y"])
        assert list(fig["layout"][axis]["tickvals"]) == joints
    titles = [fig["layout"][c]["colorbar"]["title"]["text"] for c in ("coloraxis", "coloraxis2")]
    assert titles == ["|b| (m)", "|b| (px)"]                     # ntu25 in metres, the simulated COCO-17 in pixels


@needs_checkpoints
def test_a_teacher_whose_job_is_still_computing_e_shows_that_job_not_a_second_one(monkeypatch, jobs_root):
    """While the Train page's teacher job runs its E phase, the Part-efficiency page follows that job instead of
    offering to start another E job."""
    from partkd.engine import jobs

    monkeypatch.setattr(jobs, "_ensure_worker", lambda base: None)
    job_id = jobs.submit(["train-teacher", "--data", "synthetic"], jobs_root, name="teacher · synthetic",
                         then=[["part-matrix", jobs.OUT, "--out", jobs.OUT]])
    run_dir = jobs_root / job_id / "run"
    run_dir.mkdir()
    meta = {k: v for k, v in json.loads((ROOT / "checkpoints" / "teacher.json").read_text()).items()
            if not k.startswith("E")}
    (run_dir / "model.json").write_text(json.dumps(meta))
    (run_dir / "model.safetensors").write_bytes((ROOT / "checkpoints" / "teacher.safetensors").read_bytes())
    at = run("part_efficiency", {"w_ckpt_teacher": "other path…", "w_ckpt_teacher_path": str(run_dir)})
    assert any("no part-efficiency matrix" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "compute_E"]
    assert len(at.get("progress")) == 1 and job_id in at.get("progress")[0].proto.text
