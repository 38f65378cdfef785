"""The paper's Fig. 5 for our data: the part-efficiency matrix E of each benchmark teacher, in the app's default
definition (the part Shapley value, partkd.distill.definitions.DEFAULT_EFFICIENCY).

    python benchmarks/fig5.py

Reads the committed teacher matrices of e_truth.py (benchmarks/results/e_truth_{synthetic,penn_action,penn_action_ba,
h36m,nw_ucla}.json, the seed-0 teacher of every variant that stored the default definition) and writes
benchmarks/results/fig5.png and fig5.md (the largest part per class). Nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import sys

from harness import RESULTS, add_save_arg, md_head, output_path, provenance, publish
from harness_data import draw_e, variant_label

LABELS = {
    "synthetic": "synthetic (clean)",
    "penn_action": "Penn Action",
    "penn_action_ba": "Penn Action, bone angles",
    "h36m": "Human3.6M (motion capture)",
    "nw_ucla": "NW-UCLA",
}


def panels() -> list[dict]:
    """(title, E, classes, source) of every seed-0 teacher whose results store the default definition of E."""
    from partkd.distill.definitions import DEFAULT_EFFICIENCY, EFFICIENCIES

    key = EFFICIENCIES[DEFAULT_EFFICIENCY].key
    out = []
    for dataset, label in LABELS.items():
        path = RESULTS / f"e_truth_{dataset}.json"
        if not path.exists():
            continue
        for r in json.loads(path.read_text())["runs"]:
            if r["seed"] == 0 and key in r:
                drop = variant_label(r["part"], r["joint"], r.get("mode", "one"))
                out.append(
                    {
                        "title": f"{label}, dropout {drop}: top-1 {100 * r['top1']:.1f} %",
                        "E": r[key],
                        "classes": r["class_names"],
                        "source": path.name,
                    }
                )
    return out


def main(argv: list[str] | None = None) -> int:
    """CLI: draw every stored default-definition E in one figure and list each class's top part."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_save_arg(ap, RESULTS / "fig5", help="write <SAVE>.png and <SAVE>.md")
    args = ap.parse_args(argv)
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
    md = [
        *md_head(
            "Fig. 5 for our data: E (part Shapley value, the app's default) of the benchmark teachers", provenance(argv)
        ),
        "Rows = classes, columns = parts; the largest part per class:",
        "",
    ]
    for ax, item in zip(axes.flat, items):
        arr = np.asarray(item["E"], dtype=float)
        span = max(float(np.abs(arr).max()), 1e-6)
        draw_e(ax, arr, item["classes"], item["title"], vmax=span, vmin=min(0.0, float(arr.min())), class_size=7)
        tops = [
            f"{c} → {PARTS[int(np.argmax(arr[i]))].replace('_', ' ')} ({arr[i].max():.2f})"
            for i, c in enumerate(item["classes"])
        ]
        md += [f"- **{item['title']}** (`{item['source']}`): " + "; ".join(tops)]
    for ax in list(axes.flat)[len(items) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(output_path(args.save, ".png"), dpi=110)
    plt.close(fig)
    publish(args.save, None, "\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
