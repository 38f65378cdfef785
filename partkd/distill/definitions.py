"""The definitions of the part-efficiency matrix E a teacher stores (torch-free, so configs and the CLI list them).

Each is a class mean of a per-clip part score computed from the teacher's true-class probabilities with parts
zeroed; `benchmarks/e_truth.py` measures which one names the parts that carry each action best.
"""

from __future__ import annotations

from dataclasses import dataclass

from partkd.registry import Registry


@dataclass(frozen=True)
class EfficiencyDef:
    """One definition of E: its CLI name, the teacher metadata key it is stored under, a label and a description."""

    name: str
    key: str
    label: str
    description: str


#: name -> definition, in the order commands list them.
EFFICIENCIES: Registry[EfficiencyDef] = Registry("E definition")
for _d in (
    EfficiencyDef(
        "miss",
        "E_raw",
        "miss rate (eq. 12)",
        "share of the class's clips the teacher misclassifies with the part zeroed (the paper's eq. 12)",
    ),
    EfficiencyDef(
        "drop",
        "E_drop",
        "probability drop",
        "mean fall of the true class's probability when the part is zeroed",
    ),
    EfficiencyDef(
        "shapley",
        "E_shapley",
        "Shapley value",
        "mean exact Shapley value of the part: its weighted average gain of true-class probability when added to "
        "each of the 16 subsets of the other four parts (32 subset values per clip)",
    ),
):
    EFFICIENCIES.register(_d.name, _d)
#: The definition the app shows and `part-matrix` summarises first: the most truthful one measured on the clean
#: synthetic set (benchmarks/results/e_truth_synthetic.md).
DEFAULT_EFFICIENCY = "shapley"


__all__ = ["DEFAULT_EFFICIENCY", "EFFICIENCIES", "EfficiencyDef"]
