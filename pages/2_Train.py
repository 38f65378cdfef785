"""Train: configure a run, start it as a background job, follow its progress, cancel or resume it."""
from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path

import pandas as pd
import streamlit as st

from partkd import viz
from partkd.engine import jobs
from partkd.engine.config import TRAIN_PRESETS, StudentConfig, TrainConfig
from partkd.errors import JobError, PartKDError, where
from partkd_app import state

st.set_page_config(page_title="Train · partkd", page_icon="🏋️", layout="wide")
sel = state.sidebar()
root = state.jobs_root()
st.title("Train")
st.caption(f"Runs are `partkd …` commands executed as background jobs in `{root}`; they keep running when the "
           "browser is closed. Finished checkpoints appear in the sidebar pickers on every page.")

KINDS = {"Teacher (high quality)": "train-teacher", "Student (low quality)": "train-student",
         "Reproduce recipe (teacher → E → students)": "reproduce"}


def _data_argv(prefix: str) -> list[str]:
    """Data flags for the run, defaulting to the sidebar's data selection."""
    d = dict(sel.data)
    c1, c2, c3, c4 = st.columns(4)
    source = c1.text_input("Dataset ('synthetic' or a path)", value=d.get("source", "synthetic"), key=f"{prefix}src")
    argv = ["--data", source.strip() or "synthetic"]
    if argv[1] == "synthetic":
        argv += ["--classes", str(c2.number_input("Classes", 2, 15, int(d.get("num_classes", 10)), key=f"{prefix}k")),
                 "--clips-per-class", str(c3.number_input("Clips per class", 4, 500, 60, key=f"{prefix}n"))]
    else:
        fmt = c2.selectbox("Format", state.format_choices(), key=f"{prefix}fmt")
        high = c3.text_input("High-quality layout (if the format needs one)", "", key=f"{prefix}hl")
        argv += [] if fmt == "auto-detect" else ["--format", fmt]
        argv += ["--high-layout", high.strip()] if high.strip() else []
    low = c4.selectbox("Low-quality layout", ["coco17", "same", "penn13", "openpose18"], key=f"{prefix}ll")
    level = c4.selectbox("Estimator level", list(state.ESTIMATOR_LEVELS), index=1, key=f"{prefix}lv")
    return argv + ["--low-layout", low, "--level", level]


def _train_argv(prefix: str) -> list[str]:
    """Training-recipe flags: preset, epochs, device."""
    c1, c2, c3 = st.columns(3)
    preset = c1.selectbox("Preset", sorted(TRAIN_PRESETS), index=sorted(TRAIN_PRESETS).index("smoke"),
                          key=f"{prefix}preset", help="smoke: seconds; cpu: minutes on 2 cores; paper: GPU recipe")
    epochs = c2.number_input("Epochs (0 = preset's)", 0, 500, 0, key=f"{prefix}epochs")
    device = state.option_input(c3, TrainConfig, "device", f"{prefix}device")
    return ["--preset", preset, *(["--epochs", str(epochs)] if epochs else []), "--device", device]


def _student_argv() -> tuple[list[str], str]:
    """Distillation flags: teacher, KD method, alpha, tau, w, OP, occlusion, paired fraction."""
    c1, c2 = st.columns([3, 1])
    teacher = c1.text_input("Teacher checkpoint", value=sel.teacher or "", key="t_teacher",
                            help="Defaults to the sidebar's teacher; not needed for kd = none.")
    kd = state.option_input(c2, StudentConfig, "kd", "t_kd")
    c = st.columns(6)
    values = {"kd": kd}
    for col, name in zip(c, ("alpha", "tau", "w", "op", "occlusion", "paired_fraction")):
        values[name] = state.option_input(col, StudentConfig, name, f"t_{name}")
    argv = ["--kd", kd, *state.option_argv(StudentConfig, {k: v for k, v in values.items() if k != "kd"})]
    return argv + (["--teacher", teacher.strip()] if kd != "none" and teacher.strip() else []), kd


def build_argv() -> tuple[list[str], str, str | None]:
    """The `partkd` argv, a job name and the KD method (students) for the form's current values."""
    kind = KINDS[st.radio("What to train", list(KINDS), horizontal=True, key="t_kind")]
    if kind == "reproduce":
        configs = sorted(str(p.relative_to(state.ROOT)) for p in (state.ROOT / "configs").glob("*.toml"))
        choice = st.selectbox("Recipe", [*configs, "other path…"], key="t_recipe")
        path = st.text_input("Recipe path", key="t_recipe_path") if choice == "other path…" else \
            str(state.ROOT / choice)
        return ["reproduce", path.strip()], f"reproduce {Path(path).stem}", None
    st.markdown("**Data**")
    argv = [kind, *_data_argv("t_")]
    st.markdown("**Training**")
    argv += _train_argv("t_")
    if kind == "train-student":
        st.markdown("**Distillation**")
        student, kd = _student_argv()
        return argv + student, f"student {kd}", kd
    return argv, "teacher", None


with st.container(border=True):
    argv, name, kd = build_argv()
    st.code("partkd " + shlex.join(argv), language="bash")
    if st.button("Start training job", type="primary", key="t_submit"):
        with state.readable_errors(stop=False):
            if kd not in (None, "none") and "--teacher" not in argv:
                raise JobError(where("train-student", "KD needs a teacher checkpoint (or choose KD method none)"))
            if argv[0] == "reproduce" and not Path(argv[1]).is_file():
                raise JobError(where(argv[1] or "recipe", "recipe file not found"))
            job_id = jobs.submit(argv, root=root, name=name)
            st.session_state["t_selected"] = job_id
            st.success(f"Job {job_id} queued.")


def _age(ts: float | None) -> str:
    """A timestamp as local date and time ('' when unset)."""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _job_metrics(job_id: str) -> dict:
    """Final metrics of a job's checkpoints (validation top-1 of each model file)."""
    out = {}
    for path in jobs.checkpoints(job_id, root=root):
        try:
            top1 = state.val_top1(state.read_meta(str(path)))
        except PartKDError:
            continue
        if top1 is not None:
            out[path.parent.name if path.stem == "model" else path.stem] = float(top1)
    return out


def _eta(seconds: float | None) -> str:
    """Seconds as h:mm:ss ('—' when unknown)."""
    return "—" if seconds is None else str(dt.timedelta(seconds=int(seconds)))


@st.fragment(run_every=2.0)
def jobs_panel() -> None:
    """The job table and the selected job's live progress (refreshes itself every 2 s)."""
    try:
        all_jobs = list(reversed(jobs.list_jobs(root)))
    except PartKDError as e:
        st.error(str(e), icon="⚠️")
        return
    if not all_jobs:
        st.info("No jobs yet: configure a run above and start it.")
        return
    rows = []
    for job in all_jobs:
        prog = jobs.read_progress(job["id"], root=root) or {}
        metrics = _job_metrics(job["id"]) if job["status"] == "done" else {}
        rows.append({"id": job["id"], "name": job["name"], "status": job["status"],
                     "epoch": f"{prog.get('epoch', '')}/{prog.get('epochs', '')}" if prog else "",
                     "val top-1": ", ".join(f"{k}: {v:.1%}" for k, v in metrics.items()),
                     "created": _age(job.get("created")), "error": job.get("error") or ""})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="t_jobs_table")
    ids = [j["id"] for j in all_jobs]
    if st.session_state.get("t_selected") not in ids:
        st.session_state["t_selected"] = ids[0]
    job_id = st.selectbox("Job", ids, key="t_selected",
                          format_func=lambda i: f"{i} · {next(j['name'] for j in all_jobs if j['id'] == i)}")
    job = next(j for j in all_jobs if j["id"] == job_id)
    show_job(job)


def show_job(job: dict) -> None:
    """Status, progress bar, ETA, curves, log and cancel/resume buttons of one job."""
    status = job["status"]
    prog = jobs.read_progress(job["id"], root=root) or {}
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Status", status)
    c2.metric("Phase", str(prog.get("phase", "—")))
    c3.metric("Epoch", f"{prog.get('epoch', '—')} / {prog.get('epochs', '—')}")
    c4.metric("ETA", _eta(prog.get("eta_s")) if status == "running" else "—")
    if prog and prog.get("steps"):
        done = ((prog["epoch"] - 1) * prog["steps"] + prog.get("step", 0)) / (prog["epochs"] * prog["steps"])
        st.progress(min(max(done, 0.0), 1.0) if status != "done" else 1.0,
                    text=f"step {prog.get('step')}/{prog.get('steps')} of epoch {prog.get('epoch')}")
    if status == "failed":
        st.error(f"Job {job['id']} failed: {job.get('error') or 'see the log'}", icon="⚠️")
    history = jobs.read_history(job["id"], root=root)
    if history:
        st.plotly_chart(viz.history_figure(history), key=f"t_history_{job['id']}")
    b1, b2, _ = st.columns([1, 1, 4])
    if b1.button("Cancel", key="t_cancel", disabled=status not in ("queued", "running")):
        with state.readable_errors(stop=False):
            jobs.cancel(job["id"], root=root)
            st.toast(f"Cancelling {job['id']}…")
    if b2.button("Resume", key="t_resume", disabled=status not in ("failed", "cancelled")):
        with state.readable_errors(stop=False):
            jobs.resume(job["id"], root=root)
            st.toast(f"Resumed {job['id']}")
    with st.expander("Command and log"):
        st.code("partkd " + shlex.join(job["argv"]), language="bash")
        st.code(jobs.read_log(job["id"], root=root, tail=40) or "(empty)", language="text")


st.subheader("Jobs")
jobs_panel()
