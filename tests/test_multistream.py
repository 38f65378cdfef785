"""Multi-stream models: modalities derived in the forward pass, late score fusion, one cross-entropy per
stream, the IKEM exchange gate, and the CLI paths that train, evaluate and distil them."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from partkd.checkpoints import load_checkpoint, model_meta, save_checkpoint
from partkd.data.modalities import MODALITIES
from partkd.engine.loop import classification_loss
from partkd.errors import ConfigError
from partkd.layouts import BUILTIN
from partkd.models import BACKBONES, build_model, resolve_config, to_model_input
from partkd.models.config import ModelConfig
from partkd.models.multistream import Exchange, MultiStream, confidence, exchange_gates, fuse_scores

ROOT = Path(__file__).resolve().parents[1]
TINY = {"channels": (8, 16), "strides": (1, 2), "temporal_kernel": 3, "persons": 1}


def tiny(modalities: tuple[str, ...], arch: str = "stgcn", exchange: bool = False, **kw: object) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = replace(resolve_config(arch, "tiny"), **TINY, modalities=modalities, exchange=exchange, **kw)
    return build_model(arch, "coco17", 4, cfg)


def test_fusion_is_the_weighted_mean_of_the_stream_softmaxes() -> None:
    logits = torch.tensor([[[2.0, 0.0, 0.0]], [[0.0, 0.0, math.log(8.0)]]])     # (S=2, N=1, K=3)
    p1, p2 = torch.softmax(logits[0], -1), torch.softmax(logits[1], -1)
    w = torch.tensor([0.75, 0.25])
    fused = torch.softmax(fuse_scores(logits, w), -1)
    torch.testing.assert_close(fused, 0.75 * p1 + 0.25 * p2)
    # by hand: p1 = (e², 1, 1)/(e² + 2), p2 = (1, 1, 8)/10
    e2 = math.exp(2.0)
    expect = [0.75 * e2 / (e2 + 2) + 0.025, 0.75 / (e2 + 2) + 0.025, 0.75 / (e2 + 2) + 0.2]
    torch.testing.assert_close(fused[0], torch.tensor(expect), atol=1e-6, rtol=0)
    assert int(torch.softmax(fuse_scores(logits, torch.tensor([0.2, 0.8])), -1).argmax()) == 2
    assert ModelConfig(modalities=("j", "b")).fusion_weights() == (0.5, 0.5)
    assert ModelConfig(modalities=("j", "b"), fusion=(3.0, 1.0)).fusion_weights() == (0.75, 0.25)


def test_the_model_derives_each_modality_from_the_joints_and_fuses_its_streams() -> None:
    model = tiny(("j", "b", "jm", "ba")).eval()
    assert isinstance(model, MultiStream) and len(model.streams) == 4
    x = torch.randn(3, 1, 10, 17, 3)
    x[0, 0, :, 5] = 0.0                                              # a joint missing in every frame
    xm = to_model_input(x)
    for name in model.modalities:                                    # what each stream reads
        expect = MODALITIES[name](x.numpy(), BUILTIN["coco17"])
        np.testing.assert_allclose(model.derive(xm, name).permute(0, 4, 2, 3, 1).numpy(), expect, atol=1e-6)
    with torch.no_grad():
        fused, z = model(xm)
        per = [s(model.derive(xm, n)) for s, n in zip(model.streams, model.modalities)]
    stream_logits = torch.stack([p[0] for p in per])
    torch.testing.assert_close(torch.softmax(fused, -1), torch.softmax(stream_logits, -1).mean(0))
    torch.testing.assert_close(z, torch.stack([p[1] for p in per]).mean(0))   # features: the fusion-weighted mean
    assert model.train_logits == []                                  # eval: nothing kept for a loss
    from partkd.checkpoints import Loaded
    from partkd.engine.evaluate import proba_and_streams

    fused_p, per_stream = proba_and_streams(Loaded(model, {}, Path("m")), x)
    assert not model.training and all(not m.training for m in model.modules())   # the pass keeps eval mode
    np.testing.assert_allclose(fused_p, torch.softmax(fused, -1).numpy(), atol=1e-6)
    np.testing.assert_allclose(per_stream["b"], torch.softmax(per[1][0], -1).numpy(), atol=1e-6)


def test_each_stream_learns_from_its_own_cross_entropy() -> None:
    model = tiny(("j", "b")).train()
    x, y = to_model_input(torch.randn(4, 1, 10, 17, 3)), torch.tensor([0, 1, 2, 3])
    fused, _ = model(x)
    loss = classification_loss(model, fused, y)
    heads = model.train_logits
    assert len(heads) == 2
    torch.testing.assert_close(loss, F.cross_entropy(heads[0], y) + F.cross_entropy(heads[1], y))
    loss.backward()
    grad_b = [p.grad.clone() for p in model.streams[1].parameters() if p.grad is not None]
    model.zero_grad()
    model(x)
    F.cross_entropy(model.train_logits[1], y).backward()             # stream b alone
    for g, p in zip(grad_b, [p for p in model.streams[1].parameters() if p.grad is not None]):
        torch.testing.assert_close(g, p.grad)
    single = build_model("stgcn", "coco17", 4, replace(resolve_config("stgcn", "tiny"), **TINY))
    out = single.train()(x)
    torch.testing.assert_close(classification_loss(single, out[0], y), F.cross_entropy(out[0], y))


def test_confidence_and_gates_by_hand() -> None:
    torch.testing.assert_close(confidence(torch.zeros(2, 5)), torch.zeros(2))        # uniform: 0
    assert float(confidence(torch.tensor([[30.0, 0.0, 0.0]]))[0]) > 0.999            # one-hot: 1
    p = torch.tensor([[0.5, 0.5, 0.0, 0.0]])                                          # H = log 2 of log 4
    torch.testing.assert_close(confidence(torch.log(p + 1e-30)), torch.tensor([0.5]))
    g = exchange_gates(torch.tensor([[0.9], [0.0], [0.9]]), sharpness=10.0)
    assert g.shape == (3, 3, 1) and torch.all(torch.diagonal(g[..., 0]) == 0)
    assert abs(float(g[0, 1, 0]) - 1 / (1 + math.exp(-9))) < 1e-6                    # confident -> unsure: open
    assert abs(float(g[1, 0, 0]) - 1 / (1 + math.exp(9))) < 1e-6                     # unsure -> confident: shut
    assert float(g[0, 2, 0]) == pytest.approx(0.5)                                   # equals: half


def test_a_noise_stream_receives_but_does_not_send() -> None:
    """Two streams at one exchange point: the first carries the class, the second is fresh noise. After training
    only the auxiliary heads (the gates' evidence), the gate from noise to signal is shut and the one from signal to
    noise open; with identity maps the signal stream's features are (nearly) unchanged, the noise stream gains the
    signal's."""
    gen = torch.Generator().manual_seed(0)
    classes, chans = 4, 8
    centres = 3.0 * torch.randn(classes, chans, generator=gen)

    def batch(n: int = 64) -> tuple[list[torch.Tensor], torch.Tensor]:
        y = torch.randint(0, classes, (n,), generator=gen)
        signal = centres[y][:, :, None, None] + 0.5 * torch.randn(n, chans, 3, 5, generator=gen)
        return [signal, torch.randn(n, chans, 3, 5, generator=gen)], y

    ex = Exchange(2, chans, classes)
    opt = torch.optim.Adam(ex.aux.parameters(), lr=0.05)
    for _ in range(150):
        hs, y = batch()
        _, aux = ex(hs, len(y), 1)
        opt.zero_grad()
        sum(F.cross_entropy(a, y) for a in aux).backward()
        opt.step()
    with torch.no_grad():
        for conv in ex.maps:
            conv.weight.copy_(torch.eye(chans)[:, :, None, None])
        hs, y = batch(256)
        out, aux = ex(hs, len(y), 1)
        gates = exchange_gates(torch.stack([confidence(a) for a in aux]))
    assert float(gates[1, 0].mean()) < 0.05 and float(gates[0, 1].mean()) > 0.95
    moved_signal = float((out[0] - hs[0]).norm() / hs[0].norm())
    moved_noise = float((out[1] - hs[1] - hs[0]).norm() / hs[0].norm())
    assert moved_signal < 0.05 and moved_noise < 0.05


def test_the_exchange_starts_as_independent_streams_and_learns() -> None:
    plain, ikem = tiny(("j", "jm")), tiny(("j", "jm"), exchange=True)
    x = to_model_input(torch.randn(2, 1, 10, 17, 3))
    ikem.load_state_dict(plain.state_dict(), strict=False)           # same streams, zero exchange maps
    assert ikem.exchange_at == [0] and len(ikem.exchanges["0"].aux) == 2
    with torch.no_grad():
        torch.testing.assert_close(ikem.eval()(x)[0], plain.eval()(x)[0])
    ikem.train()
    fused, _ = ikem(x)
    assert len(ikem.train_logits) == 4                               # 2 streams + 2 exchange heads
    classification_loss(ikem, fused, torch.tensor([0, 1])).backward()
    exchange = ikem.exchanges["0"]
    assert exchange.pairs == [(1, 0), (0, 1)] and len(exchange.maps) == 2    # one map per ordered pair r -> s
    assert all(float(c.weight.grad.abs().sum()) > 0 for c in exchange.maps)


@pytest.mark.parametrize("arch", BACKBONES.names())
def test_every_backbone_runs_as_streams_and_round_trips(arch: str, tmp_path: Path) -> None:
    from partkd.models.layers import SkeletonNet
    from partkd.models.registry import BACKBONES

    blockwise = issubclass(BACKBONES[arch], SkeletonNet)             # the exchange runs the streams block by block
    if not blockwise:
        with pytest.raises(ConfigError, match="the IKEM exchange needs a block-wise backbone"):
            tiny(("j", "b"), arch=arch, exchange=True)
    model = tiny(("j", "b"), arch=arch, exchange=blockwise).eval()
    x = to_model_input(torch.randn(2, 1, 10, 17, 3))
    with torch.no_grad():
        logits, z = model(x)
    assert logits.shape == (2, 4) and z.shape == (2, 16, 5, 17)
    meta = {"role": "teacher", "layout": BUILTIN["coco17"].to_dict(), "class_names": list("abcd"),
            "model": model_meta(model.config, 4), "input": {"frames": 10, "persons": 1, "mode": "pad"}}
    loaded = load_checkpoint(save_checkpoint(tmp_path / "m", model, meta))
    assert isinstance(loaded.model, MultiStream) and loaded.model.modalities == ("j", "b")
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x)[0], logits)


def test_bad_stream_settings_are_one_line_errors() -> None:
    from partkd.cli import build_parser
    from partkd.engine.config import TrainConfig, train_preset
    from partkd.engine.schema import given

    args = build_parser().parse_args(["train-teacher", "--out", "o", "--modalities", "j,b", "jm", "--fusion-weights", "3,1", "1"])
    assert given(args, TrainConfig)["modalities"] == ("j", "b", "jm")
    assert given(args, TrainConfig)["fusion_weights"] == (3.0, 1.0, 1.0)
    with pytest.raises(ConfigError, match="--fusion-weights: 'x' is not a number"):
        given(build_parser().parse_args(["train-teacher", "--out", "o", "--fusion-weights", "1,x"]), TrainConfig)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="train.fusion_weights"):
            train_preset("smoke", modalities=("j", "b"), fusion_weights=(bad, 1.0))
    with pytest.raises(ConfigError, match="'effgcn-b0' is a preset of --arch efficientgcn, not of stgcn"):
        build_model("stgcn", "coco17", 3, "effgcn-b0")

    with pytest.raises(ConfigError, match=r"train.modalities: 'q' is not one of"):
        train_preset("smoke", modalities=("j", "q"))
    with pytest.raises(ConfigError, match=r"train.fusion_weights: needs one weight >= 0 per modality \(2\)"):
        train_preset("smoke", modalities=("j", "b"), fusion_weights=(1.0,))
    with pytest.raises(ConfigError, match=r"train.ikem: the IKEM exchange needs at least two modalities"):
        train_preset("smoke", ikem=True)
    with pytest.raises(ConfigError, match=r"at most once"):
        train_preset("smoke", modalities=("b", "b"))


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "partkd", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def test_cli_trains_evaluates_and_distils_multi_stream_models(tmp_path: Path) -> None:
    data = ["--data", "synthetic", "--classes", "4", "--clips-per-class", "10", "--synth-frames", "16"]
    teacher = tmp_path / "teacher"
    done = _cli("train-teacher", *data, "--preset", "smoke", "--epochs", "2", "--modalities", "j,b",
                "--fusion-weights", "3", "1", "--ikem", "--out", str(teacher))
    assert done.returncode == 0, done.stderr
    meta = json.loads((teacher / "model.json").read_text())
    assert meta["model"]["modalities"] == ["j", "b"] and meta["model"]["fusion"] == [3.0, 1.0]
    assert meta["model"]["exchange"] is True and meta["train"]["modalities"] == ["j", "b"]
    out = tmp_path / "eval.json"
    done = _cli("evaluate", str(teacher / "model.safetensors"), *data, "--json", str(out))
    assert done.returncode == 0, done.stderr
    assert "stream j: top1" in done.stdout and "stream b: top1" in done.stdout
    result = json.loads(out.read_text())
    assert set(result["streams"]) == {"j", "b"} and 0 <= result["streams"]["b"]["top1"] <= 1
    for kd in ("relational", "pmsc_relational"):                     # a 2-stream teacher guides a joint student
        student = tmp_path / f"student_{kd}"
        done = _cli("train-student", *data, "--preset", "smoke", "--epochs", "1", "--kd", kd,
                    "--teacher", str(teacher / "model.safetensors"), "--op", "0.3", "--out", str(student))
        assert done.returncode == 0, done.stderr
        smeta = json.loads((student / "model.json").read_text())
        assert smeta["model"]["modalities"] == ["j"] and math.isfinite(smeta["history"][-1]["kd"])
    assert "E" in json.loads((teacher / "model.json").read_text())  # PMSC computed E of the 2-stream teacher

    ort = pytest.importorskip("onnxruntime")                         # the exported graph derives the bones too
    done = _cli("export", str(teacher / "model.safetensors"), "--format", "onnx", "--out", str(tmp_path / "t.onnx"))
    assert done.returncode == 0, done.stderr[-2000:]
    session = ort.InferenceSession(str(tmp_path / "t.onnx"))
    loaded = load_checkpoint(teacher / "model.safetensors")
    rng = np.random.default_rng(0)
    for batch, frames in ((2, 16), (1, 23)):
        x = rng.normal(size=(batch, 1, frames, 25, 3)).astype(np.float32)
        x[0, 0, :, 3] = 0.0                                          # a missing joint: its bones are missing too
        with torch.no_grad():
            ref = loaded.model(to_model_input(torch.from_numpy(x)))[0].numpy()
        assert np.abs(session.run(None, {"x": x})[0] - ref).max() <= 1e-4


def test_fusion_weights_fit_the_held_out_likelihood_by_hand() -> None:
    """Stream 0 is right and sure, stream 1 uniform: the NLL-optimal grid weight is all on stream 0; two equally
    informative, complementary streams get equal weights; the hold-out takes round(share · n_c) of every class."""
    from partkd.engine.fusion import fit_weights, holdout_split, simplex_grid

    y = np.array([0, 1, 2, 0])
    sure = np.eye(3)[y] * 0.98 + 0.01
    uniform = np.full((4, 3), 1 / 3)
    w, nll = fit_weights(np.stack([sure, uniform]), y)
    np.testing.assert_allclose(w, [1.0, 0.0])
    assert nll == pytest.approx(-np.log(0.99))
    a = np.where(np.arange(4)[:, None] % 2 == 0, sure, uniform)               # right on clips 0, 2
    b = np.where(np.arange(4)[:, None] % 2 == 1, sure, uniform)               # right on clips 1, 3
    np.testing.assert_allclose(fit_weights(np.stack([a, b]), y)[0], [0.5, 0.5])
    assert len(simplex_grid(4)) == 286 and np.allclose(simplex_grid(3).sum(1), 1)   # C(13, 3) points for 4 streams
    labels = np.repeat([0, 1, 2], [10, 5, 1])
    keep, held = holdout_split(labels, 0.2, seed=0)
    assert np.bincount(labels[held], minlength=3).tolist() == [2, 1, 0]
    assert sorted([*keep, *held]) == list(range(16))
    np.testing.assert_array_equal(held, holdout_split(labels, 0.2, seed=0)[1])


def test_a_teacher_fits_its_fusion_weights_on_held_out_clips(tmp_path: Path) -> None:
    from partkd.engine.config import DataSpec, train_preset
    from partkd.engine.evaluate import predict_proba, stream_proba
    from partkd.engine.data import load_high, model_inputs
    from partkd.engine.teacher import train_teacher

    spec = DataSpec(num_classes=4, clips_per_class=12, synth_frames=16)
    cfg = train_preset("smoke", epochs=2, modalities=("j", "jm"), fusion_holdout=0.25)
    path = train_teacher(cfg, spec, tmp_path / "t")
    meta = json.loads((tmp_path / "t" / "model.json").read_text())
    fit = meta["fusion_fit"]
    assert fit["clips"] == 4 * 2 and sum(fit["weights"]) == pytest.approx(1.0)   # round(25 % of 9) per class
    assert meta["model"]["fusion"] == fit["weights"] and fit["nll"] <= fit["nll_equal"] + 1e-9
    loaded = load_checkpoint(path)
    x = model_inputs(load_high(spec).by_split("test"), loaded.meta)
    streams = stream_proba(loaded, x)
    fused = sum(w * p for w, p in zip(fit["weights"], streams.values()))
    np.testing.assert_allclose(predict_proba(loaded, x), fused, atol=1e-5)
    with pytest.raises(ConfigError, match="train.fusion_holdout"):
        train_preset("smoke", fusion_holdout=0.2)
    from partkd.engine.config import StudentConfig
    from partkd.engine.student import train_student

    student = train_student(train_preset("smoke", epochs=1, modalities=("j", "b"), fusion_holdout=0.25),
                            StudentConfig(kd="none", op=0.3), None, spec, tmp_path / "s")
    smeta = load_checkpoint(student).meta
    assert smeta["fusion_fit"]["clips"] == 8 and smeta["pairs"]["low_clips"] == 4 * 9 - 8    # 2 of 9 per class out
