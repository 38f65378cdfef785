"""Training-step throughput of partkd's ST-GCN (`paper` preset) against the mmaction2 1.2.0 peer, and each side's
fraction of the machine's FLOP roofline.

Both sides run the same step (SGD lr 0.1 momentum 0.9, cross-entropy on the pooled linear head) in
separate subprocesses, alternating partkd and peer runs; the report gives medians over repeats. partkd runs twice per
round: with its native kernels (partkd/models/native.py: sparse graph aggregation, fused batch-norm + ReLU) and with
PARTKD_NATIVE=0 (torch operators only), so the kernels' own gain is measured in the same alternation. In the same run it
measures the GEMM peak of each precision benchmarked (the best rate of 2048² and 4096² products through torch.mm and
a 1×1 convolution, MKL's and oneDNN's GEMMs, with the benchmark's thread count, in fp32 or bf16, before each of that
precision's alternation rounds) and counts the step's FLOPs
(torch.utils.flop_counter on partkd's model: forward + backward; the peer runs the same network, so the same count
is used for it), and prints achieved GFLOP/s = FLOPs per sample × samples/s as a fraction of the case's peak (bf16
cases against the bf16 peak: on a CPU with AMX it is several times the fp32 one).
    python benchmarks/throughput.py --repeats 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from harness import (
    Provenance,
    add_save_arg,
    cpu_features,
    cpu_model,
    md_head,
    md_table,
    provenance,
    publish,
    run_child,
)
from harness_data import SHAPES, gemm_peak_gflops

PEER_PYTHON = "/tmp/peer-venv/bin/python"
PEER_SCRIPT = "/work/shared/tools/peer_stgcn_bench.py"


def partkd_worker(shape: str, precision: str, steps: int, warmup: int, compile_model: bool) -> dict:
    """Time partkd's training step in this process; returns the same fields as the peer's JSON line."""
    import torch

    from partkd.engine.allocator import keep_freed_memory
    from partkd.models import build_model, to_model_input

    keep_freed_memory()  # as partkd's training loop does on CPU

    layout, _, frames, persons, batch = SHAPES[shape]
    torch.manual_seed(0)
    model = build_model("stgcn", layout, 60, "full")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    run = torch.compile(model) if compile_model else model
    joints = model.layout.num_joints
    x = torch.randn(batch, persons, frames, joints, 3)
    y = torch.randint(0, 60, (batch,))

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            logits, _ = run(to_model_input(x))
            loss = torch.nn.functional.cross_entropy(logits.float(), y)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    from partkd.models.native import library

    return {
        "ms_per_step": round(dt * 1000, 1),
        "samples_per_s": round(batch / dt, 3),
        "threads": torch.get_num_threads(),
        "native": library() is not None,
    }


def step_gflops_per_sample(shape: str) -> float:
    """FLOPs of one training step (forward + backward) of partkd's ST-GCN on `shape`, per sample, in GFLOP: counted on
    torch's operators (the dense aggregation the peer runs too; the counter does not see the native kernels)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from partkd.models import build_model, native, to_model_input

    os.environ["PARTKD_NATIVE"] = "0"
    native.library.cache_clear()

    layout, _, frames, persons, batch = SHAPES[shape]
    torch.manual_seed(0)
    model = build_model("stgcn", layout, 60, "full")
    x = torch.randn(batch, persons, frames, model.layout.num_joints, 3)
    y = torch.randint(0, 60, (batch,))
    with FlopCounterMode(display=False) as counter:
        logits, _ = model(to_model_input(x))
        torch.nn.functional.cross_entropy(logits, y).backward()
    return counter.get_total_flops() / batch / 1e9


def run_json(cmd: list[str], **env: str) -> dict:
    """Run a benchmark subprocess (with extra environment variables) and parse its last stdout line as JSON."""
    return run_child(cmd, env={"PYTHONWARNINGS": "ignore", **env}, check=True).last_json()


def compare(
    shapes: list[str],
    precisions: list[str],
    repeats: int,
    steps: int,
    warmup: int,
    peer_steps: dict[str, int],
    compile_model: bool,
) -> dict:
    """Alternate partkd and peer subprocess runs per case; medians of samples/s and their ratio."""
    # a precision's GEMM peak is measured before each of its alternation rounds, under the same conditions
    cases: list[dict] = []
    peaks: dict[str, list[float]] = {precision: [] for precision in precisions}
    for shape in shapes:
        _, peer_layout, frames, persons, batch = SHAPES[shape]
        for precision in precisions:
            mine, torch_ops, peer = [], [], []
            for _ in range(repeats):
                peaks[precision].append(gemm_peak_gflops(precision))
                cmd = [
                    sys.executable,
                    __file__,
                    "--worker",
                    "--shapes",
                    shape,
                    "--precisions",
                    precision,
                    "--steps",
                    str(steps),
                    "--warmup",
                    str(warmup),
                ] + (["--compile"] if compile_model else [])
                run = run_json(cmd)
                if not run["native"]:
                    raise SystemExit("partkd's native kernels did not build here (see partkd/models/native.py)")
                mine.append(run["samples_per_s"])
                torch_ops.append(run_json(cmd, PARTKD_NATIVE="0")["samples_per_s"])
                psteps = peer_steps.get(precision, steps)
                peer.append(
                    run_json(
                        [
                            PEER_PYTHON,
                            PEER_SCRIPT,
                            "--layout",
                            peer_layout,
                            "--frames",
                            str(frames),
                            "--persons",
                            str(persons),
                            "--batch",
                            str(batch),
                            "--steps",
                            str(psteps),
                            "--warmup",
                            str(min(warmup, psteps)),
                            "--amp",
                            "bf16" if precision == "bf16" else "none",
                        ]
                    )["samples_per_s"]
                )
            m, o, p = statistics.median(mine), statistics.median(torch_ops), statistics.median(peer)
            cases.append(
                {
                    "shape": shape,
                    "precision": precision,
                    "partkd_samples_per_s": round(m, 3),
                    "peer_samples_per_s": round(p, 3),
                    "ratio": round(m / p, 3),
                    "partkd_torch_ops_samples_per_s": round(o, 3),
                    "torch_ops_ratio": round(o / p, 3),
                    "partkd_runs": mine,
                    "partkd_torch_ops_runs": torch_ops,
                    "peer_runs": peer,
                    "ratio_spread": [round(min(mine) / max(peer), 3), round(max(mine) / min(peer), 3)],
                }
            )
            print(json.dumps(cases[-1]), file=sys.stderr, flush=True)
    best = min(
        max(c["partkd_samples_per_s"] for c in cases if c["shape"] == s)
        / max(c["peer_samples_per_s"] for c in cases if c["shape"] == s)
        for s in shapes
    )
    for name, runs in peaks.items():
        runs.append(gemm_peak_gflops(name))
    peak = {name: max(runs) for name, runs in peaks.items()}
    gflop = {shape: step_gflops_per_sample(shape) for shape in shapes}  # one count per shape, whatever the precisions
    for c in cases:
        per_sample, case_peak = gflop[c["shape"]], peak[c["precision"]]
        c.update(
            gflop_per_sample=round(per_sample, 2),
            gemm_peak_gflops=round(case_peak, 1),
            partkd_roofline=round(per_sample * c["partkd_samples_per_s"] / case_peak, 3),
            peer_roofline=round(per_sample * c["peer_samples_per_s"] / case_peak, 3),
        )
    return {
        "cases": cases,
        "best_ratio_vs_peer_best": round(best, 3),
        "best_gemm_peak_gflops": {name: round(x, 1) for name, x in peak.items()},
        "gemm_peak_runs_gflops": {name: [round(x, 1) for x in runs] for name, runs in peaks.items()},
    }


def markdown(result: dict, command: str) -> str:
    """Render a comparison as a markdown report with command, device and date."""
    rows = [
        [
            c["shape"],
            c["precision"],
            c["partkd_samples_per_s"],
            c["peer_samples_per_s"],
            f"{c['ratio']} ({c['ratio_spread'][0]}–{c['ratio_spread'][1]})",
            f"{c['partkd_torch_ops_samples_per_s']} ({c['torch_ops_ratio']}×)",
            c["gflop_per_sample"],
            c["gemm_peak_gflops"],
            f"{100 * c['partkd_roofline']:.0f} %",
            f"{100 * c['peer_roofline']:.0f} %",
        ]
        for c in result["cases"]
    ]
    header = [
        "shape",
        "precision",
        "partkd samples/s",
        "peer samples/s",
        "ratio (min–max over runs)",
        "partkd with torch operators only (vs peer)",
        "GFLOP / sample (step)",
        "GEMM peak",
        "partkd of peak",
        "peer of peak",
    ]
    meta = result["meta"]
    device = f"{meta['cpu']} ({meta.get('cpu_features', 'features not recorded')}), {meta['threads']} torch threads"
    peaks = "; ".join(
        f"{name} {result['best_gemm_peak_gflops'][name]} GFLOP/s ({', '.join(str(x) for x in runs)})"
        for name, runs in result["gemm_peak_runs_gflops"].items()
    )
    prov = Provenance(command, meta["date"], meta.get("code_version", "unknown"), device)
    head = "\n".join(md_head("Training-step throughput: partkd ST-GCN vs mmaction2 1.2.0 ST-GCN", prov))
    return (
        f"{head}\n{meta['note'][:1].upper()}{meta['note'][1:]}."
        f"\n\nGEMM peaks measured in this run (best of 2048² and 4096² products through MKL and "
        f"oneDNN, measured before each of the precision's alternation rounds and once at the end): {peaks}.\n\n"
        f"{md_table(header, rows)}\n\nBest precision vs peer's best precision (min over shapes): "
        f"**{result['best_ratio_vs_peer_best']}×**\n"
    )


def main() -> None:
    """CLI: compare (default) or time one partkd case (--worker)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default=",".join(SHAPES))
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first (allocator and oneDNN caches settle)")
    p.add_argument(
        "--peer-bf16-steps",
        type=int,
        default=1,
        help="steps for the peer in bf16 (very slow on a CPU without AVX512-BF16 or AMX)",
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the partkd model")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add_save_arg(p)
    a = p.parse_args()
    shapes, precisions = a.shapes.split(","), a.precisions.split(",")
    if a.worker:
        print(json.dumps(partkd_worker(shapes[0], precisions[0], a.steps, a.warmup, a.compile)))
        return
    import torch

    result = compare(shapes, precisions, a.repeats, a.steps, a.warmup, {"bf16": a.peer_bf16_steps}, a.compile)
    prov = provenance()
    result["meta"] = {
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "code_version": prov.code_version,
        "date": prov.date,
        "load_avg_after": os.getloadavg(),
        "note": "shared machine; medians of alternating subprocess runs",
    }
    command = prov.command
    if a.save:
        publish(a.save, {**result, "command": command}, markdown(result, command))
    print(json.dumps(result) if a.json else markdown(result, command))


if __name__ == "__main__":
    main()
