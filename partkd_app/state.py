"""The selection the sidebar draws once per run and every page reads: the data (DataSpec fields), the checkpoints
picked, the low-quality view (occlusion) and the clip."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import streamlit as st

from partkd.data_fields import DataFields, is_real_low, spec_of
from partkd.engine.config import DEFAULT_OCCLUSION_MODE, DataSpec
from partkd.provenance import OcclusionProtocol, caption
from partkd_app.errors import Issue

#: The session key of this run's selection.
SELECTION = "_partkd_selection"


@dataclass(frozen=True)
class Occlusion:
    """The low-quality view the Skeletons, Compare and Robustness pages share (sidebar): occlusion probability, mode,
    parts and the seed of the occluded set."""

    op: float = 0.3
    mode: str = DEFAULT_OCCLUSION_MODE
    parts: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Selection:
    """What the sidebar picked: a DataSpec as plain fields, checkpoint paths (None = not loaded), the low-quality
    view, the clip (an index into the high-quality clips; a test clip, None when the data has none) and what keeps
    the data from use (None when it loaded with train and test clips)."""

    data: DataFields
    teacher: str | None
    nokd: str | None
    kd: str | None
    occ: Occlusion = Occlusion()
    clip: int | None = None
    issue: Issue | None = None

    @property
    def spec(self) -> DataSpec:
        """The engine DataSpec these fields describe."""
        return spec_of(dict(self.data))

    @property
    def real_low(self) -> bool:
        """True when the low-quality data is real (not simulated from the high-quality clips)."""
        return is_real_low(dict(self.data))

    def models(self) -> dict[str, str]:
        """{role: path} of the checkpoints picked (teacher, nokd, kd), skipping empty pickers."""
        return {r: p for r, p in (("teacher", self.teacher), ("nokd", self.nokd), ("kd", self.kd)) if p}

    def protocol(self, ops: tuple[float, ...] | None = None, per_clip: bool = False) -> OcclusionProtocol:
        """The sidebar's occlusion (at `ops` instead of its OP when given) for a caption."""
        o = self.occ
        return OcclusionProtocol(o.op if ops is None else ops, o.mode, o.seed, o.parts, per_clip)

    def provenance(self, roles: Iterable[str] | None = None, occlusion: OcclusionProtocol | None = None) -> str:
        """The caption line (partkd.provenance.caption) of a figure or table made from this data and the picked
        checkpoints of `roles` (every picked one when None)."""
        models = self.models()
        picked = [models[r] for r in (models if roles is None else roles) if r in models]
        return caption(picked, self.spec, occlusion)


def remember(sel: Selection) -> None:
    """Keep this run's selection for the page (the sidebar calls this)."""
    st.session_state[SELECTION] = sel


def selection() -> Selection:
    """The selection the sidebar drew in this run."""
    selected: Selection = st.session_state[SELECTION]
    return selected
