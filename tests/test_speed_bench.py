"""The speed benchmarks' own arithmetic (benchmarks/throughput.py, benchmarks/step_breakdown.py, and the CPU
description of benchmarks/harness.py they share) on hand-made inputs, and that the graph-convolution alternative the
breakdown times computes the same map as partkd's."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import harness  # noqa: E402
import step_breakdown  # noqa: E402  (the benchmark scripts themselves: a broken import fails the suite)
import throughput  # noqa: E402

from partkd.graph import spatial_partition  # noqa: E402
from partkd.layouts import get_layout  # noqa: E402
from partkd.models.stgcn import GraphConv  # noqa: E402


def test_aggregate_first_is_the_same_map_as_graph_conv() -> None:
    torch.manual_seed(0)
    g = GraphConv(4, 6, torch.from_numpy(spatial_partition(get_layout("coco17"))), edge_importance=True)
    torch.nn.init.uniform_(g.importance, 0.5, 1.5)
    torch.nn.init.uniform_(g.conv.bias, -1.0, 1.0)
    x = torch.randn(2, 4, 5, 17).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(step_breakdown.aggregate_first(g, x), g(x), rtol=1e-5, atol=1e-5)


def test_breakdown_totals_sum_parts_over_blocks() -> None:
    rows = [{"part": "a", "ms": 10.0, "gflop": 2.0}, {"part": "a", "ms": 30.0, "gflop": 6.0},
            {"part": "b", "ms": 5.0, "gflop": 0.0}]
    assert step_breakdown.totals(rows) == {"a": {"ms": 40.0, "gflop": 8.0, "gflops_per_s": 200.0},
                                           "b": {"ms": 5.0, "gflop": 0.0, "gflops_per_s": 0.0}}


def test_throughput_report_judges_each_precision_against_its_own_peak() -> None:
    case = {"shape": "coco17-T64-M1-B32", "precision": "bf16", "partkd_samples_per_s": 94.242,
            "peer_samples_per_s": 59.72, "ratio": 1.578, "gflop_per_sample": 7.32, "gemm_peak_gflops": 2817.2,
            "partkd_roofline": 0.245, "peer_roofline": 0.155, "partkd_torch_ops_samples_per_s": 80.0,
            "torch_ops_ratio": 1.34, "ratio_spread": [1.5, 1.6]}
    result = {"cases": [case], "best_ratio_vs_peer_best": 1.578,
              "best_gemm_peak_gflops": {"fp32": 420.2, "bf16": 2817.2},
              "gemm_peak_runs_gflops": {"fp32": [416.0, 420.2], "bf16": [2599.1, 2817.2]},
              "meta": {"cpu": "test CPU", "cpu_features": "AVX2, AMX-BF16", "threads": 2, "date": "2026-12-01",
                       "code_version": "x", "note": "n"}}
    md = throughput.markdown(result, "python benchmarks/throughput.py")
    assert "| coco17-T64-M1-B32 | bf16 | 94.242 | 59.72 | 1.578 (1.5–1.6) | 80.0 (1.34×) | 7.32 | 2817.2 | 24 % | 16 % |" in md
    assert "fp32 420.2 GFLOP/s (416.0, 420.2); bf16 2817.2 GFLOP/s (2599.1, 2817.2)" in md
    assert "test CPU (AVX2, AMX-BF16)" in md


def test_cpu_features_names_the_extensions_in_the_flags(monkeypatch) -> None:
    monkeypatch.setattr(harness, "cpuinfo_field", lambda name: "fpu sse2 avx2 amx_bf16 amx_tile")
    assert harness.cpu_features() == "AVX2, AMX-BF16"
    monkeypatch.setattr(harness, "cpuinfo_field", lambda name: "fpu sse2")
    assert harness.cpu_features() == "none of AVX2/AVX-512/AMX"
    monkeypatch.setattr(harness, "cpuinfo_field", lambda name: None)
    assert harness.cpu_features() == "unknown"
