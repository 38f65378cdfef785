"""The paper's Fig. 5 for our data: the part-efficiency matrix E (miss rate, eq. 12) of each benchmark teacher.

    python benchmarks/fig5.py

Reads the committed teacher matrices (benchmarks/results/{penn_action,nw_ucla,h36m}.json from kd_real.py, seed-0
teacher; e_truth_{penn_action,nw_ucla,h36m}.json, seed-0 teachers with dropout, and e_truth_synthetic.json, seed 0 without and
with teacher dropout, from e_truth.py) and writes
benchmarks/results/fig5.png and fig5.md (the largest part per class). Nothing is trained.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e_truth import draw_e  # noqa: E402
from kd_real import RESULTS, atomic_text, env_info  # noqa: E402


def class_names(dataset: str) -> list[str]:
    """A dataset's class names in loader order (for result files written before they were recorded)."""
    from partkd.data.formats import h36m, nw_ucla, penn_action

    return list({"penn_action": penn_action.ACTIONS, "nw_ucla": nw_ucla.ACTIONS, "h36m": h36m.ACTIONS}[dataset])


def panels() -> list[dict]:
    """(title, E, classes) of every teacher found in the committed results."""
    out = []
    for dataset, label in (("penn_action", "Penn Action (human 2D annotations)"),
                           ("nw_ucla", "NW-UCLA (Kinect 3D)"), ("h36m", "Human3.6M (motion capture 3D)")):
        path = RESULTS / f"{dataset}.json"
        if not path.exists():
            continue
        res = json.loads(path.read_text())
        t = res["teacher"]["seeds"][0]
        out.append({"title": f"{label}: teacher top-1 {100 * t['top1']:.1f} %", "E": t["E_raw"],
                    "classes": t.get("class_names") or class_names(dataset), "source": path.name})
    for dataset, label in (("penn_action", "Penn Action"), ("nw_ucla", "NW-UCLA"), ("h36m", "Human3.6M")):
        path = RESULTS / f"e_truth_{dataset}.json"
        if path.exists():
            for r in json.loads(path.read_text())["runs"]:
                if r["seed"] == 0 and (r["part"] or r["joint"]):
                    out.append({"title": f"{label}, teacher part / joint dropout {r['part']:g} / {r['joint']:g}: "
                                         f"top-1 {100 * r['top1']:.1f} %", "E": r["E_raw"],
                                "classes": r["class_names"], "source": path.name})
    path = RESULTS / "e_truth_synthetic.json"
    if path.exists():
        res = json.loads(path.read_text())
        for r in res["runs"]:
            if r["seed"] == 0 and r["variant"] in ("pd0_jd0", "pd0.5_jd0.1"):
                drop = "no dropout" if r["variant"] == "pd0_jd0" else "part / joint dropout 0.5 / 0.1"
                out.append({"title": f"synthetic, teacher {drop}: top-1 {100 * r['top1']:.1f} %", "E": r["E_raw"],
                            "classes": r["class_names"], "source": path.name})
    return out


def main() -> int:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from partkd.layouts import PARTS

    items = panels()
    if not items:
        raise SystemExit("no teacher matrices in benchmarks/results/ (run kd_real.py / e_truth.py first)")
    cols = min(3, len(items))
    rows = -(-len(items) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 5.6 * rows), squeeze=False)
    md = ["# Fig. 5 for our data: E (miss rate, eq. 12) of the benchmark teachers", "",
          f"Command: `{env_info(sys.argv)['command']}`; code {env_info(sys.argv)['code_version']}. Rows = classes, "
          "columns = the occluded part; the largest part per class:", ""]
    for ax, item in zip(axes.flat, items):
        arr = np.asarray(item["E"], dtype=float)
        draw_e(ax, arr, item["classes"], item["title"], vmax=1.0, class_size=7)
        tops = [f"{c} → {PARTS[int(np.argmax(arr[i]))].replace('_', ' ')} ({arr[i].max():.2f})"
                for i, c in enumerate(item["classes"])]
        md += [f"- **{item['title']}** (`{item['source']}`): " + "; ".join(tops)]
    for ax in list(axes.flat)[len(items):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(RESULTS / "fig5.png", dpi=110)
    plt.close(fig)
    atomic_text(RESULTS / "fig5.md", "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
