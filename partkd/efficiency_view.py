"""What the app's Part-efficiency page shows of a teacher's matrix E: one of its definitions or the softmax a KD
student's loss used, each cell's interval and flags, and how well E names the parts known to carry each action."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, TypedDict

import numpy as np

from partkd.catalogue import same_teacher
from partkd.data.synthetic import SYNTH_MOTIONS, action_parts
from partkd.distill.definitions import DEFAULT_EFFICIENCY, EFFICIENCIES
from partkd.distill.methods import KD_METHODS
from partkd.engine.config import StudentConfig
from partkd.errors import CheckpointError, where

SOFTMAX = "softmax"
#: The page's matrix choices, label -> E definition name: the measured most truthful definition first, then the
#: softmax (eq. 13).
VIEWS: dict[str, str] = {
    EFFICIENCIES[n].label: n for n in (DEFAULT_EFFICIENCY, *(n for n in EFFICIENCIES if n != DEFAULT_EFFICIENCY))
} | {SOFTMAX: SOFTMAX}
E_VIEWS: tuple[str, ...] = tuple(VIEWS)


class EView(NamedTuple):
    """A matrix as shown: its values, one line saying what it is and what weights the KD student, and whether it
    is normalised over the parts (a softmax)."""

    matrix: np.ndarray
    description: str
    normalized: bool


class EUncertainty(TypedDict):
    """A definition's 95 % interval per cell (lo, hi) and the cell flags of `distill.efficiency.cell_flags`."""

    lo: np.ndarray
    hi: np.ndarray
    uncertain: np.ndarray
    contested: np.ndarray
    none_needed: np.ndarray


#: Below this test top-1 a teacher's E says more about its errors than about the action (a caveat is shown).
LOW_TEACHER_TOP1 = 0.5


def e_caveats(teacher_meta: Mapping[str, object]) -> list[str]:
    """Why a teacher's E may not name the parts an action rests on, one sentence each: it never saw a missing part
    in training (zeroing one is out of distribution), or its accuracy is too low for E to mean much."""
    train = teacher_meta.get("train")
    train = train if isinstance(train, Mapping) else {}
    out = []
    if not float(train.get("part_dropout") or 0.0) > 0:
        out.append(
            "This teacher never saw a missing part in training (part dropout 0), so zeroing a part is out of "
            "distribution and E may name a part only because its absence confuses the model; retrain it with "
            "part dropout (the default 0.5 / joint dropout 0.1) for an E that names the parts that move."
        )
    metrics = teacher_meta.get("metrics")
    top1 = metrics.get("val_top1") if isinstance(metrics, Mapping) else None
    if isinstance(top1, int | float) and top1 < LOW_TEACHER_TOP1:
        out.append(
            f"This teacher's top-1 is {100 * top1:.1f} % (below {100 * LOW_TEACHER_TOP1:.0f} %): with most clips "
            "misclassified even when whole, what a missing part costs says little about the action."
        )
    return out


def e_definition(shown: str) -> str:
    """The E definition name ('miss', 'drop', 'shapley') or 'softmax' behind a view label of E_VIEWS."""
    return VIEWS[shown]


def _kd(student_meta: Mapping[str, object] | None) -> Mapping[str, object]:
    """The student's recorded KD settings ({} when none)."""
    kd = (student_meta or {}).get("kd")
    return kd if isinstance(kd, dict) else {}


def _student_uses(kd: Mapping[str, object], own: bool) -> str:
    """The sentence saying what weights the loaded KD student's loss by parts."""
    method = kd.get("method")
    if not isinstance(method, str) or method not in KD_METHODS or not KD_METHODS[method].part_weights:
        if method:
            return f"The loaded KD student used '{method}', which does not weight parts by E."
        return "No KD student is loaded."
    if not own:
        return f"The loaded KD student was distilled from another teacher ({kd.get('teacher')}), not this one."
    source = str(kd.get("efficiency") or "miss")
    return (
        f"The loaded KD student's {method} loss is weighted by the softmax of the "
        f"{EFFICIENCIES[source].label} at temperature {_temperature(kd):g}."
    )


def student_temperature(student_meta: Mapping[str, object] | None) -> float:
    """The softmax temperature of a KD student's part weights (1, the paper's, when none is loaded or recorded)."""
    return _temperature(_kd(student_meta))


def _temperature(kd: Mapping[str, object]) -> float:
    """The softmax temperature of the student's part weights (1 when it records none)."""
    value = kd.get("efficiency_temperature") or 1.0
    return float(value) if isinstance(value, int | float | str) else 1.0


def efficiency_view(
    teacher_meta: Mapping[str, object],
    shown: str,
    temperature: float,
    student_meta: Mapping[str, object] | None,
    teacher_path: str | None = None,
) -> EView:
    """One definition of E (a label of E_VIEWS), or the softmax (eq. 13) at `temperature` of the definition the
    student's PMSC loss used; the line says what weights it. The softmax is called the student's own part weights
    only when the student was distilled from this teacher (always when `teacher_path` is None)."""
    from partkd.distill.efficiency import efficiency_softmax
    from partkd.engine.student import part_weights

    kd = _kd(student_meta)
    method = kd.get("method")
    weighs_parts = isinstance(method, str) and method in KD_METHODS and KD_METHODS[method].part_weights
    own = weighs_parts and (teacher_path is None or same_teacher(student_meta, teacher_path))
    uses = _student_uses(kd, own)
    name = VIEWS[shown]
    if name != SOFTMAX:
        d = EFFICIENCIES[name]
        if d.key not in teacher_meta:
            raise CheckpointError(where("teacher", f"has no {d.label} matrix yet: recompute E (part-matrix)"))
        return EView(_matrix(teacher_meta, d.key), f"Showing the {d.label}: {d.description}. " + uses, False)
    source = str(kd.get("efficiency") or "miss") if own else "miss"
    key = EFFICIENCIES[source].key
    if key not in teacher_meta:
        raise CheckpointError(
            where("teacher", f"has no {EFFICIENCIES[source].label} matrix: recompute E (part-matrix)")
        )
    student_t = _temperature(kd)
    if own and temperature == student_t:
        config = StudentConfig(kd="pmsc", efficiency=source, efficiency_temperature=student_t)
        weights = np.asarray(part_weights(dict(teacher_meta), config), dtype=float)
        return EView(weights, "Showing exactly the KD student's part weights. " + uses, True)
    return EView(
        efficiency_softmax(_matrix(teacher_meta, key), temperature),
        f"Showing the softmax of the {EFFICIENCIES[source].label} at temperature {temperature:g}. " + uses,
        True,
    )


def _matrix(meta: Mapping[str, object], key: str) -> np.ndarray:
    """A stored (classes, 5) matrix of the metadata as floats."""
    return np.asarray(meta[key], dtype=float)


def efficiency_uncertainty(teacher_meta: Mapping[str, object], shown: str) -> EUncertainty | None:
    """For a definition of E the teacher stores an interval for: its (lo, hi) and the cell flags (uncertain cells,
    rows where no single part is needed); None for the softmax or an older teacher without intervals."""
    from partkd.distill.efficiency import cell_flags

    name = VIEWS[shown]
    intervals = teacher_meta.get("E_ci")
    ci = intervals.get(name) if isinstance(intervals, dict) else None
    if name == SOFTMAX or not ci:
        return None
    E = _matrix(teacher_meta, EFFICIENCIES[name].key)
    lo, hi = np.asarray(ci["lo"], dtype=float), np.asarray(ci["hi"], dtype=float)
    clips = teacher_meta.get("E_clips")
    flags = cell_flags(E, lo, hi, zero_tol=0.01, counts=None if clips is None else np.asarray(clips))
    return {
        "lo": lo,
        "hi": hi,
        "uncertain": flags["uncertain"],
        "contested": flags["contested"],
        "none_needed": flags["none_needed"],
    }


def known_carriers(teacher_meta: Mapping[str, object]) -> dict[str, tuple[str, ...]]:
    """Class -> the parts that carry it, when the teacher's data is the synthetic generator (else empty)."""
    data = teacher_meta.get("data")
    data = data if isinstance(data, dict) else {}
    motion = data.get("synth_motion", "clean")
    if data.get("source") != "synthetic" or motion not in SYNTH_MOTIONS:
        return {}
    return action_parts(motion)


def truth_summary(teacher_meta: Mapping[str, object]) -> list[str]:
    """Markdown lines scoring the teacher's matrices against the known carrier parts (synthetic data only)."""
    from partkd.distill.efficiency import describe_truth

    truth = teacher_meta.get("E_truth")
    return [
        f"**Against the known carrier parts** ({EFFICIENCIES[k].label if k in EFFICIENCIES else k}): "
        f"{describe_truth(v)}."
        for k, v in (truth.items() if isinstance(truth, dict) else ())
    ]
