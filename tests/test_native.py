"""The native (C/OpenMP) sparse graph aggregation: the kernel against a float64 dense reference, the graph
convolution's native path against its dense path, the build cache and the fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from partkd.graph import spatial_partition
from partkd.layouts import get_layout
from partkd.models import native
from partkd.models.stgcn import GraphConv


@pytest.fixture
def lib() -> object:
    found = native.library()
    if found is None:
        pytest.skip("no C compiler on this machine: the dense path is the only one")
    return found


def partition(layout: str) -> torch.Tensor:
    return torch.from_numpy(spatial_partition(get_layout(layout))).float()


def dense_reference(x: torch.Tensor, a: torch.Tensor, first: bool) -> torch.Tensor:
    """The aggregation as a dense einsum over the whole (K, V, V) graph, in x's dtype."""
    k, v, _ = a.shape
    if first:
        return torch.einsum("nvc,kvw->nwkc", x, a).reshape(x.shape[0], v * k, x.shape[-1])
    return torch.einsum("nvkc,kvw->nwc", x.view(x.shape[0], v, k, x.shape[-1]), a)


@pytest.mark.parametrize("layout", ["coco17", "ntu25"])
@pytest.mark.parametrize("first", [False, True])
@pytest.mark.parametrize("channels", [1, 3, 64, 70])
def test_kernel_matches_dense_float64_values_and_gradients(lib, layout: str, first: bool, channels: int) -> None:
    torch.manual_seed(channels)
    A = partition(layout)
    edges = native.Edges.of(A, first)
    assert edges.dst.numel() == int((A != 0).sum())  # one edge per non-zero entry, none for the zeros
    importance = 1 + 0.2 * torch.randn_like(A)
    frames = 37
    x = torch.randn(frames, edges.rows_in, channels, dtype=torch.float64, requires_grad=True)
    imp64 = importance.double().requires_grad_()
    ref = dense_reference(x, A.double() * imp64, first)
    grad = torch.randn_like(ref)
    ref_gx, ref_gimp = torch.autograd.grad(ref, (x, imp64), grad)

    xf, impf = x.detach().float().requires_grad_(), importance.clone().requires_grad_()
    out = native.aggregate(xf, (A * impf)[edges.index], edges, lib)
    gx, gimp = torch.autograd.grad(out, (xf, impf), grad.float())
    assert out.shape == ref.shape
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx.double(), ref_gx, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gimp.double(), ref_gimp, rtol=1e-5, atol=1e-4)
    assert torch.all(gimp[A == 0] == 0)  # entries off the graph get no gradient, as in the dense product


def test_kernel_hand_computed_two_joint_graph(lib) -> None:
    # two joints, one subset: w0 = 2·x0 + 3·x1, w1 = 5·x1
    A = torch.tensor([[[2.0, 0.0], [3.0, 5.0]]])
    edges = native.Edges.of(A, first=False)
    x = torch.tensor([[[1.0, 10.0], [100.0, 1000.0]]], requires_grad=True)
    out = native.aggregate(x, A[edges.index], edges, lib)
    assert out.tolist() == [[[302.0, 3020.0], [500.0, 5000.0]]]
    a = A[edges.index].clone().requires_grad_()
    out = native.aggregate(x, a, edges, lib)
    out.sum().backward()
    assert x.grad is not None and x.grad.tolist() == [[[2.0, 2.0], [8.0, 8.0]]]
    # d/da of Σ out: each edge's weight gets the channel sum of its input row
    by_edge = {(int(k), int(v), int(w)): float(g) for k, v, w, g in zip(*edges.index, a.grad)}
    assert by_edge == {(0, 0, 0): 11.0, (0, 1, 0): 1100.0, (0, 1, 1): 1100.0}


@pytest.mark.parametrize("cin,cout", [(3, 64), (64, 64), (64, 128), (16, 8)])
def test_graph_conv_native_path_equals_dense_path(lib, monkeypatch: pytest.MonkeyPatch, cin: int, cout: int) -> None:
    torch.manual_seed(0)
    gcn = GraphConv(cin, cout, partition("ntu25"), edge_importance=True)
    assert gcn.aggregate_first == (cin < cout)
    with torch.no_grad():
        assert gcn.importance is not None
        gcn.importance.add_(0.2 * torch.randn_like(gcn.importance))
    x = torch.randn(3, cin, 11, 25).contiguous(memory_format=torch.channels_last)
    runs = []
    for use_native in (True, False):
        monkeypatch.setattr(native, "native_library_for", (lambda _x: lib) if use_native else (lambda _x: None))
        xx = x.clone().requires_grad_()
        gcn.zero_grad()
        out = gcn(xx)
        assert out.is_contiguous(memory_format=torch.channels_last)
        out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(1)))
        runs.append((out.detach(), xx.grad, {n: p.grad.clone() for n, p in gcn.named_parameters()}))
    (out_n, gx_n, gp_n), (out_d, gx_d, gp_d) = runs
    torch.testing.assert_close(out_n, out_d, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx_n, gx_d, rtol=1e-5, atol=1e-5)
    for name in gp_d:
        torch.testing.assert_close(gp_n[name], gp_d[name], rtol=1e-4, atol=1e-4, msg=name)


def test_graph_conv_uses_dense_path_where_kernel_cannot_run(lib) -> None:
    x = torch.randn(2, 3, 5, 17)
    assert native.native_library_for(x) is lib
    assert native.native_library_for(x.double()) is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert native.native_library_for(x) is None
    gcn = GraphConv(3, 8, partition("coco17"), edge_importance=True)
    contiguous, channels_last = x, x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(gcn(contiguous), gcn(channels_last), rtol=1e-5, atol=1e-5)  # dense vs native


def test_library_built_once_into_build_dir_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if native.library() is None:
        pytest.skip("no C compiler")
    monkeypatch.setenv("PARTKD_BUILD_DIR", str(tmp_path))
    native.library.cache_clear()
    try:
        assert native.library() is not None
        built = list(tmp_path.glob("kernels-*.so"))
        assert len(built) == 1 and not list(tmp_path.glob("*.tmp"))
        native.library.cache_clear()
        monkeypatch.setattr(native, "compile_library", lambda *_: pytest.fail("compiled a second time"))
        assert native.library() is not None
    finally:
        native.library.cache_clear()


def test_no_compiler_or_switched_off_falls_back_to_dense(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTKD_BUILD_DIR", str(tmp_path))
    try:
        monkeypatch.setenv("CC", "/bin/false")
        native.library.cache_clear()
        assert native.library() is None and not list(tmp_path.iterdir())  # no partial file left behind
        monkeypatch.delenv("CC")
        monkeypatch.setenv("PARTKD_NATIVE", "0")
        native.library.cache_clear()
        assert native.library() is None
        gcn = GraphConv(3, 8, partition("coco17"), edge_importance=True)
        x = torch.randn(2, 3, 5, 17).contiguous(memory_format=torch.channels_last)
        assert gcn(x).shape == (2, 8, 5, 17)
    finally:
        native.library.cache_clear()


def test_graph_conv_follows_a_loaded_graph_with_another_pattern(lib, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    gcn = GraphConv(4, 6, partition("coco17"), edge_importance=False)
    other = torch.rand_like(gcn.A) * (torch.rand_like(gcn.A) < 0.3)  # another sparsity pattern, as an import brings
    gcn.load_state_dict({**gcn.state_dict(), "A": other})
    x = torch.randn(2, 4, 5, 17).contiguous(memory_format=torch.channels_last)
    native_out = gcn(x)
    monkeypatch.setattr(native, "native_library_for", lambda _x: None)
    torch.testing.assert_close(native_out, gcn(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("residual", [False, True])
def test_fused_batch_norm_relu_matches_torch(lib, residual: bool) -> None:
    torch.manual_seed(3)
    ref_bn, fused_bn = torch.nn.BatchNorm2d(5), torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        ref_bn.weight.uniform_(0.5, 1.5)
        ref_bn.bias.uniform_(-0.5, 0.5)
    fused_bn.load_state_dict(ref_bn.state_dict())
    cl = torch.channels_last
    z = (3 + 2 * torch.randn(4, 5, 6, 7)).contiguous(memory_format=cl)
    r = torch.randn(4, 5, 6, 7).contiguous(memory_format=cl) if residual else None
    grad = torch.randn(4, 5, 6, 7)
    runs = []
    for bn, fused in ((ref_bn, False), (fused_bn, True)):
        zz = z.clone().requires_grad_()
        rr = None if r is None else r.clone().requires_grad_()
        for _ in range(2):  # twice: the running statistics follow the same momentum updates
            bn.zero_grad()
            out = native.batch_norm_relu(zz, bn, rr, lib) if fused else torch.relu(bn(zz) + (0 if rr is None else rr))
        out.backward(grad)
        runs.append((out.detach(), zz.grad, None if rr is None else rr.grad, bn))
    (o1, gz1, gr1, b1), (o2, gz2, gr2, b2) = runs
    torch.testing.assert_close(o2, o1, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gz2, gz1, rtol=1e-4, atol=1e-5)
    if residual:
        torch.testing.assert_close(gr2, gr1)
    for name in ("weight", "bias"):
        torch.testing.assert_close(getattr(b2, name).grad, getattr(b1, name).grad, rtol=1e-4, atol=1e-5)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        torch.testing.assert_close(getattr(b2, name), getattr(b1, name), rtol=1e-5, atol=1e-6)


def test_stgcn_block_training_step_native_equals_torch_operators(lib, monkeypatch: pytest.MonkeyPatch) -> None:
    from partkd.models.config import ModelConfig
    from partkd.models.stgcn import STGCNBlock

    torch.manual_seed(0)
    block = STGCNBlock(8, 16, 2, partition("coco17"), ModelConfig())
    x = torch.randn(6, 8, 12, 17).contiguous(memory_format=torch.channels_last)
    state = {k: v.clone() for k, v in block.state_dict().items()}
    runs = []
    for use_native in (True, False):
        block.load_state_dict(state)
        monkeypatch.setattr(native, "native_library_for", (lambda _x: lib) if use_native else (lambda _x: None))
        xx = x.clone().requires_grad_()
        block.zero_grad()
        out = block(xx)
        out.square().sum().backward()
        runs.append((out.detach(), xx.grad, {n: p.grad.clone() for n, p in block.named_parameters()},
                     {k: v.clone() for k, v in block.state_dict().items()}))
    (o1, g1, p1, s1), (o2, g2, p2, s2) = runs
    torch.testing.assert_close(o1, o2, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-4)
    for name in p2:
        if not name.endswith(("tcn.0.bias", "gcn.conv.bias", "residual.0.bias")):  # zero up to rounding before BN
            scale = float(p2[name].abs().max())
            torch.testing.assert_close(p1[name], p2[name], rtol=1e-4, atol=1e-5 * scale, msg=name)
    for name in s2:
        torch.testing.assert_close(s1[name], s2[name], rtol=1e-5, atol=1e-5, msg=name)
