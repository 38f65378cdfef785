"""The paper's Table 1 (heterogeneous teacher, top-1 %): the one place its numbers are written, for the benchmarks
and the app's Robustness page to hold results against."""

from __future__ import annotations

from dataclasses import dataclass

#: Table 1's occlusion levels (the paper's columns).
TABLE_OPS: tuple[float, ...] = (0.0, 0.3, 0.6)


@dataclass(frozen=True)
class Table1Row:
    """One dataset of Table 1: the teacher, and the students without KD and with PMSC at each of TABLE_OPS."""

    teacher: float
    nokd: tuple[float, ...]
    pmsc: tuple[float, ...]

    def drop(self) -> tuple[float, ...]:
        """The no-KD student's change from OP 0 at each OP after the first (negative: it loses accuracy)."""
        return tuple(v - self.nokd[0] for v in self.nokd[1:])

    def gain(self) -> tuple[float, ...]:
        """PMSC − no KD at each OP."""
        return tuple(p - n for p, n in zip(self.pmsc, self.nokd))


#: Data in the paper's words -> its row of Table 1.
TABLE1: dict[str, Table1Row] = {
    "NTU-60 CS": Table1Row(84.56, (79.98, 76.30, 73.25), (83.31, 81.76, 79.41)),
    "NTU-60 CV": Table1Row(89.46, (84.88, 80.45, 77.70), (88.13, 85.67, 84.03)),
    "Penn Action": Table1Row(90.54, (83.43, 78.18, 70.51), (87.08, 84.74, 80.52)),
    "SYSU 3D HOI S1": Table1Row(88.54, (84.33, 77.95, 65.39), (87.14, 81.43, 68.88)),
    "SYSU 3D HOI S2": Table1Row(88.96, (84.00, 78.35, 66.01), (86.68, 81.76, 68.41)),
}


def table1_line(name: str) -> str:
    """One dataset's row in words, e.g. "teacher 90.54; w/o KD 83.43 / 78.18 / 70.51; w/ KD ... at OP 0 / 0.3 / 0.6"."""
    row = TABLE1[name]
    fmt = " / ".join
    return (
        f"teacher {row.teacher:.2f}; w/o KD {fmt(f'{v:.2f}' for v in row.nokd)}; w/ KD "
        f"{fmt(f'{v:.2f}' for v in row.pmsc)} at OP {fmt(f'{o:g}' for o in TABLE_OPS)}"
    )


def signed(values: tuple[float, ...]) -> str:
    """Signed points joined for a caption, e.g. "-5.25 / -12.92"."""
    return " / ".join(f"{v:+.2f}" for v in values)


__all__ = ["TABLE1", "TABLE_OPS", "Table1Row", "signed", "table1_line"]
