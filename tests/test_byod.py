"""Bring your own data (docs/bring_your_own_data.md): the tutorial's files and commands, run as written on small
arrays, with a custom-named z-up millimetre motion-capture layout and a different low-quality layout; then each
point of the issue on its own (layout flags, aliases, axes, schedules, threads, inspect, metadata, clean-up)."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import app_page

from partkd.checkpoints import read_meta
from partkd.cli import build_parser, main
from partkd.data.axes import UP_ROTATIONS, convert_clip
from partkd.data.loaders import load_dataset
from partkd.data.synthetic import synth_high
from partkd.engine.config import StudentConfig, train_preset
from partkd.errors import LayoutError
from partkd.layouts import BUILTIN, layout_from_dict, load_layout_file

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "bring_your_own_data.md"
NTU = {n: i for i, n in enumerate(BUILTIN["ntu25"].joints)}
#: The tutorial's markers as ntu25 joints (the two front-head markers sit beside the head).
MARKERS = {"C7": "neck", "CLAV": "spine_shoulder", "STRN": "spine_mid", "SACR": "spine_base",
           **{f"{s}{m}": f"{side}_{j}" for s, side in (("L", "left"), ("R", "right"))
              for m, j in (("SHO", "shoulder"), ("ELB", "elbow"), ("WRA", "wrist"), ("FIN", "hand"), ("ASI", "hip"),
                           ("KNE", "knee"), ("ANK", "ankle"), ("TOE", "foot"))}}
DEPTH = {"Head": "head", "Neck": "spine_shoulder", "SpineBase": "spine_base",
         **{f"{j}{side.title()}": f"{side}_{n}" for side in ("left", "right")
            for j, n in (("Shoulder", "shoulder"), ("Elbow", "elbow"), ("Hand", "wrist"), ("Hip", "hip"),
                         ("Knee", "knee"), ("Foot", "ankle"))}}
FAST = {"--preset": "smoke", "--epochs": "2"}  # the tutorial's cpu runs, shortened for the suite


def doc_blocks() -> list[tuple[str, str, str]]:
    """(language, file name or '', body) of every fenced block of the tutorial."""
    return [(m[1], m[2].strip(), m[3]) for m in re.finditer(r"```(\w+)([^\n]*)\n(.*?)```", DOC.read_text(), re.DOTALL)]


def markers_yup(clip: np.ndarray, layout: dict) -> np.ndarray:
    """(M, T, 25, 3) ntu25 metres, y up -> the tutorial's marker set in the same frame."""
    out = []
    for name in layout["joints"]:
        if name in ("LFHD", "RFHD"):
            side = "left" if name[0] == "L" else "right"
            out.append(clip[..., NTU["head"], :] + 0.3 * (clip[..., NTU[f"{side}_shoulder"], :]
                                                          - clip[..., NTU["spine_shoulder"], :]))
        else:
            out.append(clip[..., NTU[MARKERS[name]], :])
    return np.stack(out, axis=-2)


def write_raw(folder: Path, layouts: dict[str, dict]) -> np.ndarray:
    """The raw arrays the tutorial starts from; returns the markers in y-up metres (what partkd must read back)."""
    high = synth_high(num_classes=4, clips_per_class=8, frames=24, seed=0)
    t = min(c.shape[1] for c in high.clips)
    clips = [c[0, :t] for c in high.clips]                                                  # (T, 25, 3) each
    yup = np.stack([markers_yup(c, layouts["mocap22.json"]) for c in clips])                # (N, T, 22, 3)
    inverse = np.linalg.inv(UP_ROTATIONS["z"])                                              # y up -> z up
    rng = np.random.default_rng(0)
    depth = np.stack([c[:, [NTU[DEPTH[j]] for j in layouts["depth15.json"]["joints"]]] for c in clips])
    depth = depth + rng.normal(0.0, 0.01, depth.shape)
    depth[rng.random(depth.shape[:3]) < 0.05] = 0.0                                         # untracked joints
    folder.mkdir()
    np.save(folder / "mocap.npy", (yup @ inverse.T * 1000.0).astype(np.float32))
    np.save(folder / "depth.npy", depth.astype(np.float32))
    np.save(folder / "labels.npy", high.labels)
    np.save(folder / "subject.npy", np.arange(len(high)) % 5)
    np.save(folder / "take.npy", 1000 + np.arange(len(high)))
    (folder / "classes.json").write_text(json.dumps(list(high.class_names)))
    return yup


def cli(line: str) -> list[str]:
    """A tutorial command line as partkd's argv, with the suite's fast settings."""
    argv = shlex.split(line)[1:]
    for flag, value in FAST.items():
        if flag in argv:
            argv[argv.index(flag) + 1] = value
    return argv


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Run the tutorial in a fresh folder: write its layout files, run its Python block and every partkd line."""
    work = tmp_path_factory.mktemp("byod")
    mp = pytest.MonkeyPatch()
    mp.chdir(work)
    mp.setenv("PARTKD_CACHE", str(work / "cache"))
    blocks = doc_blocks()
    layouts = {name: json.loads(body) for lang, name, body in blocks if lang == "json"}
    for name, d in layouts.items():
        (work / name).write_text(json.dumps(d))
    yup = write_raw(work / "raw", layouts)
    (code,) = [body for lang, _, body in blocks if lang == "python"]
    exec(compile(code, str(DOC), "exec"), {})  # noqa: S102 - the tutorial's own code block, run as a user would
    lines = [ln for lang, _, body in blocks if lang == "bash" for ln in body.splitlines() if ln.startswith("partkd ")]
    results = {}
    threads = torch.get_num_threads()
    try:
        for line in lines:
            results[line] = main(cli(line))
    finally:
        torch.set_num_threads(threads)
        mp.undo()
    return {"work": work, "lines": lines, "results": results, "yup": yup, "layouts": layouts}


def test_every_tutorial_command_succeeds(tutorial: dict) -> None:
    assert len(tutorial["lines"]) >= 8
    assert {line: rc for line, rc in tutorial["results"].items() if rc != 0} == {}
    names = {shlex.split(ln)[1] for ln in tutorial["lines"]}
    assert {"data", "train-teacher", "part-matrix", "train-student", "evaluate"} <= names


def test_z_up_millimetres_are_read_as_y_up_metres(tutorial: dict) -> None:
    ds = load_dataset(tutorial["work"] / "hq.npz", layout=tutorial["work"] / "mocap22.json", cache=False)
    got = np.stack([c[0] for c in ds.clips])
    assert np.allclose(got, tutorial["yup"], atol=1e-4)  # exactly the y-up metres the raw file was made from
    head, toe = ds.layout.joints.index("LFHD"), ds.layout.joints.index("LTOE")
    assert (got[..., head, 1] - got[..., toe, 1]).mean() > 1.0  # the head is a metre and more above the feet
    assert (ds.layout.up, ds.layout.units) == ("y", "m") and ds.meta["converted_from"] == {"up": "z", "units": "mm"}


def test_convert_clip_by_hand() -> None:
    clip = np.array([[[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]]])            # one joint and one missing joint
    assert np.allclose(convert_clip(clip, "z", "mm")[0, 0], [[0.001, 0.003, -0.002], [0, 0, 0]])
    assert np.allclose(convert_clip(clip, "-y", "cm")[0, 0], [[0.01, -0.02, -0.03], [0, 0, 0]])
    for up, r in UP_ROTATIONS.items():
        axis = np.zeros(3)
        axis["xyz".index(up[-1])] = -1.0 if up.startswith("-") else 1.0
        assert np.isclose(np.linalg.det(r), 1.0) and np.allclose(r @ axis, [0, 1, 0]), up


def test_teacher_reads_only_h_and_students_record_their_low_source(tutorial: dict) -> None:
    w = tutorial["work"]
    teacher = read_meta(w / "runs/byod/teacher/model.safetensors")
    assert teacher["layout"]["name"] == "mocap22" and "E_drop" in teacher and teacher["degradation"]["level"] is None
    real = read_meta(w / "runs/byod/pmsc/model.safetensors")
    assert real["layout"]["name"] == "depth15" and real["degradation"]["level"] is None
    assert real["degradation"]["low_source"] == "file" and Path(real["data"]["low"]) == (w / "lq.npz").resolve()
    assert real["kd"]["tau"] == StudentConfig.tau == 0.1           # the README's recommendation is the default
    sim = read_meta(w / "runs/byod/pmsc_coco/model.safetensors")
    assert sim["layout"]["name"] == "coco17" and sim["degradation"]["level"] == "medium"


def test_stored_layout_paths_let_evaluate_run_from_another_folder(tutorial: dict, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PARTKD_CACHE", str(tutorial["work"] / "cache"))
    assert main(["evaluate", str(tutorial["work"] / "runs/byod/pmsc/model.safetensors")]) == 0
    assert "top1" in capsys.readouterr().out


def test_inspect_reports_pairs_solitary_and_short_clips(tutorial: dict, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    w = tutorial["work"]
    with np.load(w / "lq.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["pair_id"][:3] = [-1, 5, 6]                    # one solitary by mark, two ids H does not have
    arrays["length"] = np.full(len(arrays["label"]), arrays["keypoint"].shape[2])
    arrays["length"][7] = 1                               # a one-frame clip
    np.savez(tmp_path / "lq_mod.npz", **arrays)
    argv = ["data", "inspect", str(w / "hq.npz"), "--layout", str(w / "mocap22.json"), "--low",
            str(tmp_path / "lq_mod.npz"), "--low-layout", str(w / "depth15.json"), "--json", "--no-cache"]
    assert main(argv) == 0
    out = capsys.readouterr()
    p = json.loads(out.out)["low"]["pairing"]
    n = len(arrays["label"])
    assert (p["low_matched"], p["low_solitary"], p["high_matched"], p["high_without_low"]) == (n - 3, 3, n - 3, 3)
    assert "1 low-quality clip(s) have fewer than 9 frames" in out.err
    assert main(argv[:-2]) == 0
    text = capsys.readouterr().out
    assert f"pairs:   {n - 3} of {n} low-quality clips" in text and "solitary: 3 low-quality clips" in text


def flags_of(command: str) -> set[str]:
    """Every option string of one sub-command."""
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return {s for a in sub.choices[command]._actions for s in a.option_strings}


def test_missing_low_layout_names_the_low_flag_and_removes_the_new_folder(tutorial: dict, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          capsys: pytest.CaptureFixture) -> None:
    w = tutorial["work"]
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "student"
    rc = main(["train-student", "--data", str(w / "hq.npz"), "--layout", str(w / "mocap22.json"), "--low",
               str(w / "lq.npz"), "--kd", "none", "--preset", "smoke", "--epochs", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "no built-in layout has 15 joints" in err and "(--low-layout)" in err
    assert "--low-layout" in flags_of("train-student") and not out.exists()
    rc = main(["train-teacher", "--data", str(w / "hq.npz"), "--preset", "smoke", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "(--layout)" in err and "--layout" in flags_of("train-teacher") and not out.exists()


def test_a_layout_without_aliases_says_exactly_what_to_add(tutorial: dict, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    w = tutorial["work"]
    monkeypatch.setenv("PARTKD_CACHE", str(tmp_path / "cache"))
    bare = {k: v for k, v in tutorial["layouts"]["mocap22.json"].items() if k != "aliases"}
    (tmp_path / "bare.json").write_text(json.dumps(bare))
    rc = main(["train-student", "--data", str(w / "hq.npz"), "--layout", str(tmp_path / "bare.json"), "--low",
               "simulate", "--kd", "none", "--preset", "smoke", "--epochs", "1", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    for joint in ("left_shoulder", "right_ankle", "left_hip", "head (or"):
        assert joint in err
    assert '"aliases": {"<your joint>": "' in err and not (tmp_path / "s").exists()


def test_layout_file_extras_are_validated_and_round_trip(tmp_path: Path) -> None:
    d = json.loads(json.dumps(doc_layout("depth15.json")))
    lay = layout_from_dict({**d, "aliases": {"Head": "head"}})
    assert layout_from_dict(lay.to_dict()) == lay and lay.canonical_index()["head"] == 0
    for bad, problem in (({"up": "w"}, "up must be one of"), ({"units": "ft"}, "units must be one of"),
                         ({"aliases": {"Nope": "head"}}, "alias of unknown joint"),
                         ({"aliases": {"Head": "neck", "Neck": "neck"}}, "several joints are named or aliased"),
                         ({"dims": 2}, "up and units describe 3D")):
        (tmp_path / "l.json").write_text(json.dumps({**d, **bad}))
        with pytest.raises(LayoutError, match=problem):
            load_layout_file(tmp_path / "l.json")


def doc_layout(name: str) -> dict:
    return next(json.loads(body) for lang, n, body in doc_blocks() if lang == "json" and n == name)


def test_epochs_scale_the_milestones_and_lr_steps_set_them(tutorial: dict, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert train_preset("cpu").milestones == (12, 16, 18)
    assert train_preset("cpu", epochs=10).milestones == (6, 8, 9)        # 12/20, 16/20, 18/20 of 10 epochs
    assert train_preset("cpu", epochs=40).milestones == (24, 32, 36)
    assert train_preset("cpu", epochs=10, milestones=(4,)).milestones == (4,)
    w = tutorial["work"]
    monkeypatch.setenv("PARTKD_CACHE", str(w / "cache"))
    threads = torch.get_num_threads()
    try:
        rc = main(["train-teacher", "--data", str(w / "hq.npz"), "--layout", str(w / "mocap22.json"), "--preset",
                   "smoke", "--epochs", "3", "--lr-steps", "1", "2", "--threads", "1", "--out", str(tmp_path / "t")])
        assert rc == 0 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    meta = read_meta(tmp_path / "t" / "model.safetensors")
    assert meta["train"]["milestones"] == [1, 2]
    assert [round(h["lr"], 6) for h in meta["history"]] == [0.1, 0.01, 0.001]


def test_the_app_pages_run_on_the_tutorial_files(tutorial: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from partkd_app.sidebar import OTHER

    w = tutorial["work"]
    monkeypatch.setenv("PARTKD_CACHE", str(w / "cache"))
    monkeypatch.setenv("PARTKD_JOBS", str(w / "jobs"))
    monkeypatch.chdir(ROOT)
    state = {"src": "folder or file", "data_path": str(w / "hq.npz"), "high_layout": str(w / "mocap22.json"),
             "low_kind": "file", "low_path": str(w / "lq.npz"), "low_file_layout": str(w / "depth15.json")}
    for role, run in (("teacher", "teacher"), ("nokd", "nokd"), ("kd", "pmsc")):
        state[f"ckpt_{role}"] = OTHER
        state[f"ckpt_{role}_path"] = str(w / "runs" / "byod" / run / "model.safetensors")
    for page in ("skeletons", "part_efficiency", "compare", "robustness"):
        at = app_page(page, {f"w_{key}": value for key, value in state.items()})
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
        assert at.get("plotly_chart"), page
        if page == "skeletons":  # the two skeletons of one take, each in its own layout
            titles = [a["text"] for a in json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["annotations"]]
            assert "mocap22" in titles[0] and "depth15" in titles[1], titles


def test_progress_is_one_line_per_epoch_when_not_a_terminal(tutorial: dict, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture) -> None:
    w = tutorial["work"]
    monkeypatch.setenv("PARTKD_CACHE", str(w / "cache"))
    assert main(["train-teacher", "--data", str(w / "hq.npz"), "--layout", str(w / "mocap22.json"), "--preset",
                 "smoke", "--epochs", "3", "--out", str(tmp_path / "t")]) == 0
    err = capsys.readouterr().err  # captured: not a terminal, as in a log file or a background job
    assert "\r" not in err
    lines = err.splitlines()
    assert [ln.split(":")[0] for ln in lines if ln.startswith("teacher epoch")] == [f"teacher epoch {i}/3"
                                                                                    for i in (1, 2, 3)]
    assert lines[0].startswith("teacher: 19 training clips, ") and len(lines) <= 5   # + the size and ETA lines
