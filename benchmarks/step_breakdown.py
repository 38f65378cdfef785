"""Where partkd's ST-GCN training step spends its time: forward + backward of each block's parts, timed in
isolation, with the GFLOP/s each part reaches against the machine's fp32 GEMM peak.

Parts per block: the graph convolution (1×1 convolution + joint aggregation over the spatial partition; its 1×1
convolution is also timed alone, so the aggregation's cost is the difference), its batch-norm + ReLU, the temporal
9×1 convolution, its batch-norm, the residual. Two alternatives that were tried for the graph convolution's speed
are timed beside it, so the decision not to use them can be re-checked:
  - aggregate first: Σ_k W_k (x A_k) instead of Σ_k (W_k x) A_k (the joint aggregation runs on Cin channels);
  - joint-major memory: the temporal convolution on (V·B, C, T, 1) instead of (B, C, T, V) channels-last, which
    would let the aggregation be one large GEMM per block.
Not timed: the residual sum and final ReLU of each block, the input batch-norm, pooling, the classifier, the loss
and the optimiser step; compare the parts' sum with benchmarks/throughput.py's step time for their share.
    python benchmarks/step_breakdown.py --shape coco17-T64-M1-B32 --save benchmarks/results/step_breakdown_coco
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from harness import (
    Provenance,
    add_save_arg,
    cpu_features,
    cpu_model,
    md_head,
    md_table,
    provenance,
    publish,
)
from harness_data import SHAPES, gemm_peak_gflops
from torch.utils.flop_counter import FlopCounterMode

from partkd.engine.allocator import keep_freed_memory
from partkd.models import build_model, to_model_input
from partkd.models.stgcn import GraphConv


def timed(fn: Callable[[], object], reps: int) -> float:
    """Median seconds of `fn` over `reps` calls, after two warm-up calls."""
    for _ in range(2):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def flops(fn: Callable[[], object]) -> float:
    """FLOPs of one call of `fn` by torch's flop counter."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def aggregate_first(g: GraphConv, x: torch.Tensor) -> torch.Tensor:
    """The same map as `g` computed as Σ_k W_k (x A_k) + bias·Σ_v A_k (the alternative timed against it)."""
    a = g.A if g.importance is None else g.A * g.importance
    k, v, _ = a.shape
    b, cin, t, _ = x.shape
    cout = g.conv.out_channels // k
    agg = a.permute(2, 0, 1).reshape(v * k, v)  # [(w, k), v]
    xa = torch.bmm(agg.expand(b * t, *agg.shape), x.permute(0, 2, 3, 1).reshape(b * t, v, cin))
    xa = xa.view(b, t, v, k * cin).permute(0, 3, 1, 2)  # (B, K·Cin, T, V), channels-last
    w = g.conv.weight.view(k, cout, cin).transpose(0, 1).reshape(cout, k * cin, 1, 1)
    bias = torch.einsum("kc,kvw->cw", g.conv.bias.view(k, cout), a)
    return F.conv2d(xa, w) + bias.view(1, cout, 1, v)


def part(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, params: list[torch.Tensor]
) -> Callable[[], object]:
    """A closure running fn(x) forward and backward (gradients of x where it needs them, and of `params`)."""
    inputs = ([x] if x.requires_grad else []) + params

    def run() -> object:
        for t in inputs:
            t.grad = None  # as zero_grad(set_to_none=True) before a training step
        out = fn(x)
        out.backward(torch.ones_like(out))
        return out

    return run


def breakdown(shape: str, reps: int) -> list[dict]:
    """One row per (block, part): median ms, GFLOP and GFLOP/s of its forward + backward."""
    layout, _, frames, persons, batch = SHAPES[shape]
    torch.manual_seed(0)
    model = build_model("stgcn", layout, 60, "full")
    h = model.data_bn(to_model_input(torch.randn(batch, persons, frames, model.layout.num_joints, 3))).detach()
    rows = []
    for i, block in enumerate(model.blocks):
        x = h.clone().requires_grad_()  # as in training: data_bn's affine parameters need the first block's input grad
        gcn_params = list(block.gcn.parameters())
        z = block.gcn(x).detach().requires_grad_()
        r = torch.relu(block.bn(z)).detach().requires_grad_()
        conv = block.tcn[0]
        c = conv(r).detach().requires_grad_()
        b, ch, t, v = r.shape
        joint_major = r.detach().permute(3, 0, 2, 1).contiguous().view(v * b, t, 1, ch).permute(0, 3, 1, 2)
        parts = {
            "graph conv": part(block.gcn, x, gcn_params),
            "graph conv: its 1×1 conv alone": part(block.gcn.conv, x, list(block.gcn.conv.parameters())),
            "graph conv, aggregate first": part(lambda y, g=block.gcn: aggregate_first(g, y), x, gcn_params),
            "bn + relu": part(lambda y, bn=block.bn: torch.relu(bn(y)), z, []),
            "temporal conv": part(conv, r, [conv.weight]),
            "temporal conv, joint-major": part(conv, joint_major.requires_grad_(), [conv.weight]),
            "temporal bn": part(block.tcn[1], c, []),
        }
        if block.residual is not None and not isinstance(block.residual, torch.nn.Identity):
            parts["residual"] = part(block.residual, x, list(block.residual.parameters()))
        for name, fn in parts.items():
            sec, fl = timed(fn, reps), flops(fn)
            rows.append(
                {
                    "block": i,
                    "input": list(x.shape),
                    "part": name,
                    "ms": round(1000 * sec, 2),
                    "gflop": round(fl / 1e9, 3),
                    "gflops_per_s": round(fl / sec / 1e9, 1),
                }
            )
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
        with torch.no_grad():
            h = block(h)
    return rows


def totals(rows: list[dict]) -> dict[str, dict]:
    """Per part over all blocks: ms, GFLOP and GFLOP/s."""
    out: dict[str, dict] = {}
    for r in rows:
        t = out.setdefault(r["part"], {"ms": 0.0, "gflop": 0.0})
        t["ms"] += r["ms"]
        t["gflop"] += r["gflop"]
    for t in out.values():
        t["gflops_per_s"] = round(t["gflop"] / t["ms"] * 1000, 1) if t["ms"] else 0.0
        t["ms"], t["gflop"] = round(t["ms"], 1), round(t["gflop"], 2)
    return out


#: Parts that partkd's step does not run (alternatives) or that another part already contains.
NOT_IN_STEP = ("graph conv: its 1×1 conv alone", "graph conv, aggregate first", "temporal conv, joint-major")


def markdown(res: dict) -> str:
    """The totals table with the command, machine, date and code version."""
    peak = res["fp32_gemm_peak_gflops"]
    device = f"{res['cpu']} ({res['cpu_features']}), {res['threads']} torch threads"
    rows = [
        [name, t["ms"], t["gflop"], t["gflops_per_s"], f"{100 * t['gflops_per_s'] / peak:.0f} %"]
        for name, t in res["totals"].items()
    ]
    lines = [
        *md_head(
            f"Training-step breakdown: {res['shape']}",
            Provenance(res["command"], res["date"], res["code_version"], device),
        ),
        f"fp32 GEMM peak {peak} GFLOP/s. Forward + backward of each part in isolation, medians; the alternatives "
        "(aggregate first, joint-major) are not what partkd runs.",
        "",
        md_table(["part (all blocks)", "ms", "GFLOP", "GFLOP/s", "of peak"], rows),
    ]
    step = sum(t["ms"] for name, t in res["totals"].items() if name not in NOT_IN_STEP)
    lines += [
        "",
        f"Parts of partkd's step (without the alternatives and the 1×1 conv counted inside the graph conv): "
        f"{step:.1f} ms.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """CLI: time the parts of one shape's step and print / save the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", choices=sorted(SHAPES), default="coco17-T64-M1-B32")
    p.add_argument("--reps", type=int, default=7)
    add_save_arg(p)
    a = p.parse_args()
    keep_freed_memory()  # as the training loop does on CPU
    peak = gemm_peak_gflops()
    rows = breakdown(a.shape, a.reps)
    prov = provenance()
    res = {
        "shape": a.shape,
        "command": prov.command,
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "threads": torch.get_num_threads(),
        "date": prov.date,
        "code_version": prov.code_version,
        "fp32_gemm_peak_gflops": round(max(peak, gemm_peak_gflops()), 1),
        "totals": totals(rows),
        "rows": rows,
    }
    if a.save:
        publish(a.save, res, markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
