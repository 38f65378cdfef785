"""Small C/OpenMP kernels (csrc/kernels.c) for the CPU training step: the sparse graph aggregation of the graph
convolutions, and training-mode batch-norm fused with the residual sum and ReLU.

The spatial partition of a 25-joint skeleton has 73 non-zero entries of 1,875, so the dense batched product over
every frame spends most of its time on zeros, in matrices too small for the BLAS to run fast; the kernel visits
only the graph's edges. The fused batch-norm reads and writes each activation fewer times than batch-norm, ReLU and
their backward passes as separate operators. The kernels are compiled once per machine with the system C compiler
(`$CC`, else cc / gcc; `-O3 -march=native -fopenmp`) into $PARTKD_BUILD_DIR (default ~/.cache/partkd/native),
keyed by the source, the compiler, its flags and the CPU; where there is no compiler, or PARTKD_NATIVE=0, the
models keep torch's operators (the same functions: tests/test_native.py checks both paths agree)."""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch

SOURCE = Path(__file__).resolve().parent / "csrc" / "kernels.c"
FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-fno-math-errno")
log = logging.getLogger(__name__)


def build_dir() -> Path:
    """Where compiled kernels are kept: $PARTKD_BUILD_DIR, else ~/.cache/partkd/native."""
    return Path(os.environ.get("PARTKD_BUILD_DIR") or Path.home() / ".cache" / "partkd" / "native")


def cpu_signature() -> str:
    """The CPU's model and feature flags (what -march=native compiles for)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine() + platform.processor()
    keep = [line for line in lines if line.startswith(("model name", "flags"))][:2]
    return "\n".join(keep) or platform.machine()


def compile_library(cc: str, target: Path) -> None:
    """Compile SOURCE into `target` (with OpenMP where the compiler has it), written atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so.tmp")
    os.close(fd)
    try:
        for extra in (("-fopenmp",), ()):
            done = subprocess.run([cc, *FLAGS, *extra, str(SOURCE), "-o", tmp], capture_output=True, text=True)
            if done.returncode == 0:
                os.replace(tmp, target)
                return
        raise OSError(f"{cc} could not compile {SOURCE.name}: {done.stderr.strip().splitlines()[-1:]}")
    finally:
        Path(tmp).unlink(missing_ok=True)


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled kernels (built on first use), or None where PARTKD_NATIVE=0 or no C compiler can build them."""
    if os.environ.get("PARTKD_NATIVE", "1") == "0":
        return None
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        log.info("no C compiler found: the models use torch's operators")
        return None
    key = hashlib.sha256(
        b"\0".join([SOURCE.read_bytes(), cc.encode(), " ".join(FLAGS).encode(), cpu_signature().encode()])
    ).hexdigest()[:16]
    target = build_dir() / f"kernels-{key}.so"
    try:
        if not target.exists():
            compile_library(cc, target)
        lib = ctypes.CDLL(str(target))
    except OSError as exc:
        log.warning("native kernels unavailable (%s): the models use torch's operators", exc)
        return None
    p, i, n = ctypes.c_void_p, ctypes.c_int, ctypes.c_long
    lib.graph_aggregate_forward.argtypes = [p, p, n, i, i, i, p, p, p, i]
    lib.graph_aggregate_backward.argtypes = [p, p, p, p, p, n, i, i, i, i, p, p, p, i]
    f = ctypes.c_float
    lib.bn_relu_forward.argtypes = [p, p, p, n, i, p, p, f, p, p, p, p, i]
    lib.bn_relu_backward.argtypes = [p, p, p, p, p, n, i, p, p, p, p, p, p, p, i]
    return lib


@dataclass(frozen=True)
class Edges:
    """The non-zero entries of a (K, V, V) partition as edges from input rows to output rows of a frame, listed by
    input row. `first` = False (aggregate after the 1×1 convolution): input row v·K + k (joint v, subset k's
    channels) to output row w. `first` = True (aggregate the input first): input row v to output row w·K + k."""

    index: tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (k, v, w) of every edge, in the edges' order
    rows_in: int
    rows_out: int
    start: torch.Tensor  # int32 (rows_in + 1,): the edges leaving input row s are start[s]:start[s + 1]
    dst: torch.Tensor  # int32 (E,): the output row of each edge

    @classmethod
    def of(cls, partition: torch.Tensor, first: bool) -> Edges:
        """The edges of `partition`'s non-zero pattern."""
        subsets, joints, _ = partition.shape
        k, v, w = torch.nonzero(partition).unbind(1)
        src, dst = (v, w * subsets + k) if first else (v * subsets + k, w)
        rows_in, rows_out = (joints, joints * subsets) if first else (joints * subsets, joints)
        order = torch.argsort(src * rows_out + dst)
        start = torch.zeros(rows_in + 1, dtype=torch.int32)
        start[1:] = torch.cumsum(torch.bincount(src, minlength=rows_in), 0)
        index = (k[order], v[order], w[order])
        return cls(index, rows_in, rows_out, start, dst[order].to(torch.int32))


def _ptr(t: torch.Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(t.data_ptr())


class _Aggregate(torch.autograd.Function):
    """out[n, r] = Σ over edges e into r of a[e] · x[n, src[e]], for x (frames, rows_in, C) float32."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, a: torch.Tensor, edges: Edges, lib: ctypes.CDLL) -> torch.Tensor:
        frames, _, c = x.shape
        a = a.detach().contiguous()
        out = x.new_empty(frames, edges.rows_out, c)
        lib.graph_aggregate_forward(
            _ptr(x),
            _ptr(out),
            frames,
            edges.rows_in,
            edges.rows_out,
            c,
            _ptr(edges.start),
            _ptr(edges.dst),
            _ptr(a),
            torch.get_num_threads(),
        )
        ctx.save_for_backward(x, a)
        ctx.edges, ctx.lib = edges, lib
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None, None]:
        x, a = ctx.saved_tensors
        edges: Edges = ctx.edges
        grad = grad.contiguous()
        frames, _, c = x.shape
        threads = torch.get_num_threads()
        grad_x, grad_a = torch.empty_like(x), torch.empty_like(a)
        work = torch.empty(threads * a.numel(), dtype=torch.float64)
        ctx.lib.graph_aggregate_backward(
            _ptr(x),
            _ptr(grad),
            _ptr(grad_x),
            _ptr(grad_a),
            _ptr(work),
            frames,
            edges.rows_in,
            edges.rows_out,
            c,
            a.numel(),
            _ptr(edges.start),
            _ptr(edges.dst),
            _ptr(a),
            threads,
        )
        return grad_x, grad_a, None, None


def native_library_for(x: torch.Tensor) -> ctypes.CDLL | None:
    """The kernel where it can run on `x` (float32 on the CPU, eager mode, outside autocast), else None."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or torch.is_autocast_enabled("cpu"):
        return None
    if torch.jit.is_tracing() or torch.jit.is_scripting() or torch.compiler.is_compiling():
        return None
    return library()


def aggregate(x: torch.Tensor, a: torch.Tensor, edges: Edges, lib: ctypes.CDLL) -> torch.Tensor:
    """Σ over `edges` of a[e] · x[:, src[e]] into each output row: x (frames, rows_in, C) -> (frames, rows_out, C);
    differentiable in x and in the edge weights a (E,)."""
    return _Aggregate.apply(x.contiguous(), a.to(torch.float32), edges, lib)


class _BatchNormReLU(torch.autograd.Function):
    """max(0, BN(z) + res) for channels-last rows z (R, C) in training mode (batch statistics)."""

    @staticmethod
    def forward(
        ctx,
        z: torch.Tensor,
        res: torch.Tensor | None,
        weight: torch.Tensor,
        bias: torch.Tensor,
        eps: float,
        lib: ctypes.CDLL,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows, c = z.shape
        threads = torch.get_num_threads()
        out = torch.empty_like(z)
        mean, var, invstd = (z.new_empty(c) for _ in range(3))
        work = torch.empty(2 * threads * c, dtype=torch.float64)
        w, b = weight.detach().contiguous(), bias.detach().contiguous()
        lib.bn_relu_forward(
            _ptr(z),
            None if res is None else _ptr(res),
            _ptr(out),
            rows,
            c,
            _ptr(w),
            _ptr(b),
            eps,
            _ptr(mean),
            _ptr(var),
            _ptr(invstd),
            _ptr(work),
            threads,
        )
        ctx.save_for_backward(z, out, w, mean, invstd)
        ctx.lib, ctx.has_res = lib, res is not None
        ctx.mark_non_differentiable(mean, var)
        return out, mean, var

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: torch.Tensor, *_: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        z, out, w, mean, invstd = ctx.saved_tensors
        rows, c = z.shape
        threads = torch.get_num_threads()
        grad = grad.contiguous()
        grad_z, grad_w, grad_b = torch.empty_like(z), torch.empty_like(w), torch.empty_like(w)
        grad_res = torch.empty_like(z) if ctx.has_res else None
        work, coef = torch.empty(2 * threads * c, dtype=torch.float64), z.new_empty(3 * c)
        ctx.lib.bn_relu_backward(
            _ptr(grad),
            _ptr(out),
            _ptr(z),
            _ptr(grad_z),
            None if grad_res is None else _ptr(grad_res),
            rows,
            c,
            _ptr(w),
            _ptr(mean),
            _ptr(invstd),
            _ptr(grad_w),
            _ptr(grad_b),
            _ptr(work),
            _ptr(coef),
            threads,
        )
        return grad_z, grad_res, grad_w, grad_b, None, None


def fusable(bn: torch.nn.Module) -> bool:
    """Whether batch_norm_relu can stand in for `bn` followed by ReLU (training mode, affine, running statistics)."""
    return isinstance(bn, torch.nn.BatchNorm2d) and bn.training and bn.affine and bn.track_running_stats


def batch_norm_relu(
    z: torch.Tensor, bn: torch.nn.BatchNorm2d, res: torch.Tensor | None, lib: ctypes.CDLL
) -> torch.Tensor:
    """relu(bn(z) + res) (res optional) for (B, C, T, V) z in training mode (free views when channels-last, else
    one copy), updating bn's running statistics as BatchNorm2d does (unbiased variance, momentum or the cumulative
    average)."""
    b, c, t, v = z.shape
    rows = b * t * v
    flat = z.permute(0, 2, 3, 1).reshape(rows, c)
    flat_res = None if res is None else res.permute(0, 2, 3, 1).reshape(rows, c)
    out, mean, var = _BatchNormReLU.apply(flat, flat_res, bn.weight, bn.bias, bn.eps, lib)
    running_mean, running_var = cast(torch.Tensor, bn.running_mean), cast(torch.Tensor, bn.running_var)
    tracked = cast(torch.Tensor, bn.num_batches_tracked)
    with torch.no_grad():
        tracked.add_(1)
        momentum = bn.momentum if bn.momentum is not None else 1.0 / float(tracked)
        running_mean.mul_(1 - momentum).add_(mean, alpha=momentum)
        running_var.mul_(1 - momentum).add_(var * (rows / max(rows - 1, 1)), alpha=momentum)
    return out.view(b, t, v, c).permute(0, 3, 1, 2)


__all__ = ["Edges", "aggregate", "batch_norm_relu", "build_dir", "fusable", "library", "native_library_for"]
