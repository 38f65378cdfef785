"""Compare: the paper's Figs. 6-7 for one test clip (teacher on high quality, students with and without KD on the
same low-quality skeleton at OP 0, 0.3 and 0.6), then the top-5 of every model at the sidebar's OP."""

from __future__ import annotations

import numpy as np
import streamlit as st
from matplotlib.figure import Figure

from partkd import figures, viz
from partkd.catalogue import ROLES
from partkd.paper import TABLE_OPS
from partkd.report import grid_rows, grid_title, paper_clips, showcase_op
from partkd_app.datasets import LOW_ROW, low_test_rows, paired_dataset
from partkd_app.downloads import downloads
from partkd_app.errors import readable_errors
from partkd_app.pages.compare_streams import stream_table
from partkd_app.results import grid_png, predictions
from partkd_app.sidebar import select_clip
from partkd_app.state import selection

sel = selection()
st.title("Compare predictions")
st.caption(
    "The teacher sees the high-quality skeleton; both students see the same estimated low-quality skeleton, "
    "occluded by the engine's protocol (one seed for the whole test set, as `partkd evaluate --seed`), so every "
    "number here is the one the CLI reports. ✓ = top-1 is the true class, ✗ = wrong."
)

if not sel.models():
    st.info(
        "No checkpoint is loaded: pick a teacher and students in the sidebar (shipped in `checkpoints/`, or "
        "train them on the Train page)."
    )
    st.stop()

with readable_errors():
    pair = paired_dataset(sel.data)
if sel.issue is not None:
    sel.issue.show()
    st.stop()
if sel.clip is None:
    st.info("Pick a test clip in the sidebar.")
    st.stop()
high_test = np.flatnonzero(pair.high.split == "test")
h = int(np.searchsorted(high_test, sel.clip))  # the clip's row in the high-quality test split
matches, shown_row = low_test_rows(sel)
if shown_row is None:
    st.warning("The students' test set has no low-quality clip paired with this high-quality clip.")
    st.stop()
only = tuple(int(i) for i in matches)  # the models run on this clip only; the whole set when finding a paper clip
with readable_errors():
    gd = predictions(sel, TABLE_OPS, only)
    at_op = gd if sel.occ.op in gd.occluded else predictions(sel, (sel.occ.op,), only)
clip = shown_row


def _paper_clip() -> None:
    """Button callback: move the sidebar's clip to the next one the paper would show (the models run on the whole
    test split once for this)."""
    whole = None
    with readable_errors(stop=False):
        whole = predictions(sel, TABLE_OPS)
    if whole is None:
        return
    chosen = paper_clips(whole)
    chosen = chosen[whole.high_of_low[chosen] >= 0]  # the sidebar picks high-quality clips: only paired ones
    if not chosen.size:
        st.session_state["cmp_flash"] = (
            "info",
            f"No test clip has both students right at OP 0 and only the KD student right at OP {showcase_op(whole):g}.",
        )
        return
    at = np.flatnonzero(chosen == clip)
    pick = int(chosen[(at[0] + 1) % chosen.size] if at.size else chosen[0])  # the next in the list, round
    st.session_state[LOW_ROW] = pick
    select_clip(pair.high, int(high_test[whole.high_of_low[pick]]))
    st.session_state["cmp_flash"] = (
        "success",
        f"{chosen.size} of {len(whole.low)} test clips have the KD student right and the one without KD wrong at "
        f"OP {max(TABLE_OPS):g}; showing the next.",
    )


can_find = "kd" in gd.models and "nokd" in gd.models
st.button(
    "Find a clip the paper would show",
    key="cmp_paper",
    on_click=_paper_clip,
    disabled=not can_find,
    icon=":material/search:",
    help="Both students right at OP 0; at the KD student's training OP the KD student right and the one without KD "
    "wrong (and the teacher right)"
    if can_find
    else "Needs both a student without KD and one with KD.",
)
kind, text = st.session_state.pop("cmp_flash", (None, ""))
if kind:
    getattr(st, kind)(text)

paper_rows = grid_rows(gd, clip, TABLE_OPS)
source = sel.provenance(occlusion=sel.protocol(TABLE_OPS))
st.subheader("Figures 6-7: one clip at OP 0, 0.3 and 0.6")


def _grid_figure() -> Figure:
    return figures.clip_grid_figure(paper_rows, title=grid_title(gd, clip), source=source)


st.image(grid_png(sel, TABLE_OPS, clip, grid_title(gd, clip), source, only))
st.caption(source)
downloads("grid", f"clip_grid_{gd.low.names[clip]}", _grid_figure, lambda: figures.grid_csv(paper_rows))

st.subheader(f"At the sidebar's OP {sel.occ.op:.2f}")
drawn = at_op.drawn
if drawn is not None:
    op = sel.occ.op
    occluded = at_op.occluded[op][clip]
    clean = at_op.clean[drawn][clip]
    teacher_input = at_op.clean["teacher"][h] if "teacher" in at_op.models else pair.high.by_split("test").clips[h]
    fig = viz.side_by_side(
        teacher_input,
        gd.high.layout,
        clean,
        gd.models[drawn].layout,
        low_mask=viz.occlusion_mask(clean, occluded),
        titles=(f"teacher input · {gd.high.layout.name}", f"student input · {gd.low.layout.name}, OP {op:.2f}"),
        units=("model input", "model input"),
    )
    st.plotly_chart(fig, key="cmp_animation")
    at_source = sel.provenance(occlusion=sel.protocol((op,)))
    st.caption(f"The models' own inputs (normalised as in training), occluded joints hollow grey. {at_source}")
    for (role, label), col in zip(ROLES.items(), st.columns(len(ROLES))):
        with col:
            if role not in at_op.models:
                st.info(f"{label}: not loaded (pick one in the sidebar).")
                continue
            with readable_errors(stop=False):
                probs = at_op.probs[(role, 0.0 if role == "teacher" else op)][h if role == "teacher" else clip]
                truth = int((gd.high if role == "teacher" else gd.low).labels[h if role == "teacher" else clip])
                st.plotly_chart(
                    viz.topk_bars(probs, gd.low.class_names, truth, k=5, title=label), key=f"cmp_top5_{role}"
                )
                streams = at_op.streams.get((role, 0.0 if role == "teacher" else op), {})
                if streams:
                    row = h if role == "teacher" else clip
                    shown_op = sel.protocol((0.0 if role == "teacher" else op,))
                    st.caption(
                        f"{label}: each stream's top-1 and the late fusion (equal-weight mean of scores unless "
                        f"the checkpoint sets weights). {sel.provenance((role,), shown_op)}"
                    )
                    st.dataframe(
                        stream_table(streams, probs, row, gd.low.class_names, truth),
                        hide_index=True,
                        key=f"cmp_streams_{role}",
                    )
    st.caption(f"Top-5 classes; the teacher on clean high-quality input, the students at OP {op:g}. {at_source}")
    op_rows = grid_rows(at_op, clip, (op,))
    downloads(
        "at_op",
        f"clip_{gd.low.names[clip]}_op{op:g}",
        lambda: figures.clip_grid_figure(op_rows, title=grid_title(at_op, clip), source=at_source),
        lambda: figures.table_csv(
            [
                {"model": ROLES[r], "class": name, "probability": round(float(p), 6)}
                for r in at_op.models
                for name, p in zip(
                    gd.low.class_names, at_op.probs[(r, 0.0 if r == "teacher" else op)][h if r == "teacher" else clip]
                )
            ]
        ),
    )
else:
    st.info("Load a student in the sidebar to see its input and predictions.")
