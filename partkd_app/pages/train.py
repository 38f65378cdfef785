"""Train: configure a run, start it as a background job, follow its progress, cancel or resume it."""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple, TypedDict, cast

import pandas as pd
import streamlit as st

from partkd import figures, viz
from partkd.catalogue import val_top1
from partkd.checkpoints import read_meta
from partkd.data_fields import describe_data, spec_of
from partkd.distill.methods import get_method
from partkd.engine import jobs
from partkd.engine.config import (
    DEFAULT_PRESET,
    TRAIN_PRESETS,
    StudentConfig,
    TrainConfig,
    student_config_from_dict,
    train_preset,
)
from partkd.engine.run_config import dumps, run_config
from partkd.errors import JobError, PartKDError, where
from partkd.provenance import caption, data_name
from partkd.training_cost import precision_used
from partkd_app.catalogue import refresh_checkpoints
from partkd_app.defaults import CONFIGS, ROOT
from partkd_app.downloads import downloads
from partkd_app.errors import readable_errors
from partkd_app.pages.train_form import option_input
from partkd_app.state import selection
from partkd_app.widgets import kept

sel = selection()
root = jobs.jobs_root()
st.title("Train")
st.caption(
    f"Runs are `partkd …` commands executed as background jobs in `{root}`; they keep running when the "
    "browser is closed. Finished checkpoints appear in the sidebar pickers on every page."
)


class Job(TypedDict):
    """What this page reads of a job record (engine.jobs: job.json)."""

    id: str
    name: str
    argv: list[str]
    then: list[list[str]]
    status: str
    created: float | None
    error: str | None
    out_dir: str


KINDS = {
    "Teacher (high quality) → its part matrix E": "train-teacher",
    "Student (low quality)": "train-student",
    "Reproduce recipe (teacher → E → students)": "reproduce",
}


class Plan(NamedTuple):
    """A job to start: its command line (or resolved run config), its name and the commands run after it."""

    argv: list[str]
    config: dict[str, object] | None
    name: str
    then: list[list[str]]


def _e_phase(train: TrainConfig) -> list[str]:
    """The teacher job's last phase: `partkd part-matrix` on the finished teacher, on the data it was trained on."""
    return ["part-matrix", jobs.OUT, "--out", jobs.OUT, "--device", train.device]


def _train_config() -> TrainConfig:
    """The training recipe: a preset with the run length, device and seed of the form."""
    c1, c2, c3, c4 = st.columns(4)
    names = sorted(TRAIN_PRESETS)
    preset = kept(
        c1.selectbox,
        "Preset",
        "t_preset",
        DEFAULT_PRESET,
        options=names,
        help="smoke: seconds; cpu: minutes on 2 cores; paper: the paper's GPU recipe",
    )
    epochs = kept(c2.number_input, "Epochs (0 = preset's)", "t_epochs", 0, min_value=0, max_value=500)
    device = option_input(c3, TrainConfig, "device", "t_device")
    seed = option_input(c4, TrainConfig, "seed", "t_seed")
    m1, m2, m3 = st.columns([3, 1, 1])
    modalities = option_input(m1, TrainConfig, "modalities", "t_modalities")
    ikem = option_input(m2, TrainConfig, "ikem", "t_ikem")
    holdout = option_input(m3, TrainConfig, "fusion_holdout", "t_fusion_holdout")
    cfg = train_preset(
        preset,
        epochs=epochs or None,
        device=device,
        seed=seed,
        modalities=modalities,
        ikem=ikem,
        fusion_holdout=holdout,
    )
    used = precision_used(cfg)
    why = (
        "bf16 autocast"
        if used == "bf16"
        else "bf16 autocast runs only on CUDA or on a CPU with bf16 units (AMX, AVX512-BF16)"
        if cfg.precision == "bf16"
        else "as the preset sets"
    )
    st.caption(f"Precision: **{used}** on this machine ({why}); the run config below records it.")
    return replace(cfg, precision=used)


def _student_config() -> tuple[StudentConfig, str]:
    """Distillation settings and the teacher checkpoint path."""
    c1, c2 = st.columns([3, 1])
    if st.session_state.get("_t_teacher_from") != sel.teacher:  # follow the sidebar's teacher when it changes
        st.session_state["t_teacher"] = sel.teacher or ""
        st.session_state["_t_teacher_from"] = sel.teacher
    teacher = kept(
        c1.text_input,
        "Teacher checkpoint",
        "t_teacher",
        sel.teacher or "",
        help="Defaults to the sidebar's teacher; not needed for kd = none.",
    )
    values = {"kd": option_input(c2, StudentConfig, "kd", "t_kd")}
    if st.session_state.get("_t_op_from") != sel.occ.op:  # the sidebar's OP, until the form's is changed
        st.session_state["t_op"] = float(sel.occ.op)
        st.session_state["_t_op_from"] = sel.occ.op
    names = ("alpha", "tau", "w", "op", "occlusion", "op_sampling", "paired_fraction", "relational_weight")
    for col, name in zip(st.columns(len(names)), names):
        values[name] = option_input(col, StudentConfig, name, f"t_{name}")
    return student_config_from_dict(values, "Train form"), teacher.strip()


def build_job() -> Plan:
    """The job to start for the form's current values."""
    kinds = list(KINDS)
    kind = KINDS[kept(st.radio, "What to train", "t_kind", kinds[0], options=kinds, horizontal=True)]
    if kind == "reproduce":
        configs = sorted(str(p.relative_to(ROOT)) for p in CONFIGS.glob("*.toml"))
        choice = kept(st.selectbox, "Recipe", "t_recipe", configs[0], options=[*configs, "other path…"])
        path = (
            kept(st.text_input, "Recipe path", "t_recipe_path", "") if choice == "other path…" else str(ROOT / choice)
        )
        return Plan(["reproduce", path.strip()], None, f"reproduce {Path(path).stem}", [])
    if sel.issue is not None:  # the sidebar's own line: unreadable, or without a train or test split
        raise JobError(sel.issue.message)
    st.markdown(f"**Data** (the sidebar's): {describe_data(dict(sel.data))}")
    spec = sel.spec
    st.markdown("**Training**")
    train = _train_config()
    if kind == "train-student":
        st.markdown("**Distillation**")
        student, teacher = _student_config()
        if not get_method(student.kd).needs_teacher:
            teacher = ""
        elif not teacher:
            raise JobError(where("train-student", "KD needs a teacher checkpoint (or choose KD method none)"))
        config = run_config(kind, spec, train, student, teacher or None)
        return Plan([], config, f"student {student.kd} · {data_name(spec)}", [])
    d1, d2 = st.columns(2)
    part = option_input(d1, TrainConfig, "part_dropout", "t_part_dropout")
    joint = option_input(d2, TrainConfig, "joint_dropout", "t_joint_dropout")
    assert isinstance(part, float) and isinstance(joint, float)  # the schema's float options
    train = replace(train, part_dropout=part, joint_dropout=joint)
    return Plan([], run_config(kind, spec, train), f"teacher · {data_name(spec)}", [_e_phase(train)])


with st.container(border=True):
    job = None
    with readable_errors(stop=False):
        job = build_job()
    if job is not None:
        if job.config is None:
            st.code("partkd " + shlex.join(job.argv), language="bash")
        else:
            after = "".join(f", then `partkd {shlex.join(c)}`" for c in job.then)
            st.caption(
                f"Resolved run config: the job runs `partkd {job.config['kind']} --config <job>/config.toml`"
                f"{after.replace(jobs.OUT, '<job>/run')}."
            )
            st.code(dumps(job.config), language="toml")
    if st.button("Start training job", type="primary", key="t_submit", disabled=job is None) and job is not None:
        with readable_errors(stop=False):
            if job.config is None and not Path(job.argv[1]).is_file():
                raise JobError(where(job.argv[1] or "recipe", "recipe file not found"))
            name = jobs.unique_name(job.name, root)
            job_id = jobs.submit(job.argv, root=root, name=name, config=job.config, then=job.then)
            st.session_state["t_selected"] = job_id
            st.toast(f"Job {job_id} queued.", icon=":material/schedule:")


def _age(ts: float | None) -> str:
    """A timestamp as local date and time ('' when unset)."""
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def _job_metrics(job_id: str) -> dict[str, float]:
    """Final metrics of a job's checkpoints (validation top-1 of each model file)."""
    out: dict[str, float] = {}
    for path in jobs.checkpoints(job_id, root=root):
        try:
            top1 = val_top1(read_meta(str(path)))
        except PartKDError:
            continue
        if top1 is not None:
            out[path.parent.name if path.stem == "model" else path.stem] = float(top1)
    return out


def _job_source(job: Job) -> str:
    """The provenance line of a job's curves: its finished checkpoints (its resume point while it runs) and the data
    they record."""
    refs = [str(p) for p in jobs.checkpoints(job["id"], root=root)]
    last = Path(job["out_dir"]) / "last.json"
    if not refs and last.is_file():
        refs = [str(last)]
    try:
        return caption(refs, spec_of(read_meta(refs[0])["data"], refs[0]))
    except (IndexError, KeyError, PartKDError):
        return "checkpoints: none written yet"


def _eta(seconds: float | None) -> str:
    """Seconds as h:mm:ss ('—' when unknown)."""
    return "—" if seconds is None else str(dt.timedelta(seconds=int(seconds)))


@st.fragment(run_every=2.0)
def jobs_panel() -> None:
    """The job table and the selected job's live progress (refreshes itself every 2 s)."""
    try:
        all_jobs = cast(list[Job], list(reversed(jobs.list_jobs(root))))
    except PartKDError as e:
        st.error(str(e), icon="⚠️")
        return
    if not all_jobs:
        st.info("No jobs yet: configure a run above and start it.")
        return
    done = sorted(j["id"] for j in all_jobs if j["status"] == "done")
    seen = st.session_state.get("_t_done_jobs")
    st.session_state["_t_done_jobs"] = done
    if seen is not None and done != seen:  # a job finished: list its checkpoints in the sidebar now
        refresh_checkpoints()
        st.rerun(scope="app")
    rows = []
    for job in all_jobs:
        prog = jobs.read_progress(job["id"], root=root) or {}
        metrics = _job_metrics(job["id"]) if job["status"] == "done" else {}
        rows.append(
            {
                "id": job["id"],
                "name": job["name"],
                "status": job["status"],
                "epoch": f"{prog.get('epoch', '')}/{prog.get('epochs', '')}" if prog else "",
                "val top-1": ", ".join(f"{k}: {v:.1%}" for k, v in metrics.items()),
                "created": _age(job.get("created")),
                "error": job.get("error") or "",
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="t_jobs_table")
    ids = [j["id"] for j in all_jobs]
    if st.session_state.get("t_selected") not in ids:
        st.session_state["t_selected"] = ids[0]
    job_id = st.selectbox(
        "Job", ids, key="t_selected", format_func=lambda i: f"{i} · {next(j['name'] for j in all_jobs if j['id'] == i)}"
    )
    job = next(j for j in all_jobs if j["id"] == job_id)
    show_job(job)


def show_job(job: Job) -> None:
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
        st.progress(
            min(max(done, 0.0), 1.0) if status != "done" else 1.0,
            text=f"step {prog.get('step')}/{prog.get('steps')} of epoch {prog.get('epoch')}",
        )
    if status == "failed":
        st.error(f"Job {job['id']} failed: {job.get('error') or 'see the log'}", icon="⚠️")
    history = jobs.read_history(job["id"], root=root)
    if history:
        st.plotly_chart(viz.history_figure(history), key=f"t_history_{job['id']}")
        source = _job_source(job)
        st.caption(f"Job {job['name']}: loss and accuracy per epoch. {source}")
        downloads(
            "history",
            f"history_{job['id']}",
            lambda: figures.history_figure(history, title=job["name"], source=source),
            lambda: figures.table_csv(history),
        )
    b1, b2, _ = st.columns([1, 1, 4])
    if b1.button("Cancel", key="t_cancel", disabled=status not in ("queued", "running")):
        with readable_errors(stop=False):
            jobs.cancel(job["id"], root=root)
            st.toast(f"Cancelling {job['id']}…")
    if b2.button("Resume", key="t_resume", disabled=status not in ("failed", "cancelled")):
        with readable_errors(stop=False):
            jobs.resume(job["id"], root=root)
            st.toast(f"Resumed {job['id']}")
    with st.expander("Command and log"):
        st.code("\n".join("partkd " + shlex.join(c) for c in jobs.commands(dict(job))), language="bash")
        st.code(jobs.read_log(job["id"], root=root, tail=40) or "(empty)", language="text")


st.subheader("Jobs")
jobs_panel()
