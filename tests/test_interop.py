"""mmaction2 / pyskl ST-GCN interop: the key mapping against a fixture written by mmaction2 1.2.0 itself
(tests/fixtures/mmaction2_stgcn/make_fixture.py, run in ../shared/tools/peer_stgcn_env.sh's environment)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from partkd.errors import CheckpointError
from partkd.interop import load_mmaction2_stgcn, map_keys, read_state

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "mmaction2_stgcn"


def test_the_key_mapping_by_hand() -> None:
    state = {"data_bn.weight": 1, "gcn.0.gcn.PA": 2, "gcn.0.gcn.A": 3, "gcn.0.gcn.conv.weight": 4,
             "gcn.0.gcn.bn.running_var": 5, "gcn.2.tcn.conv.bias": 6, "gcn.2.tcn.bn.weight": 7,
             "gcn.2.residual.conv.weight": 8, "gcn.2.residual.bn.num_batches_tracked": 9, "fc.bias": 10}
    assert map_keys(state) == {  # type: ignore[arg-type]
        "data_bn.bn.weight": 1, "blocks.0.gcn.importance": 2, "blocks.0.gcn.A": 3, "blocks.0.gcn.conv.weight": 4,
        "blocks.0.bn.running_var": 5, "blocks.2.tcn.0.bias": 6, "blocks.2.tcn.1.weight": 7,
        "blocks.2.residual.0.weight": 8, "blocks.2.residual.1.num_batches_tracked": 9, "fc.bias": 10}
    with pytest.raises(CheckpointError, match="unexpected key 'gcn.0.attention.weight'"):
        map_keys({"gcn.0.attention.weight": torch.zeros(1)})


def test_an_mmaction2_stgcn_gives_the_same_logits_in_partkd() -> None:
    """The fixture's recognizer (4 stages, 16-32 channels, random weights and BN statistics, 2 persons) on its
    saved input: partkd's logits equal mmaction2's within 1e-4."""
    state = read_state(FIXTURE / "stgcn_coco_small.pth")
    assert not any(k.startswith(("backbone.", "cls_head.")) for k in state)
    model = load_mmaction2_stgcn(FIXTURE / "stgcn_coco_small.pth", "coco17", persons=2)
    assert model.config.channels == (16, 16, 32, 32) and model.config.strides == (1, 1, 2, 1)
    io = np.load(FIXTURE / "stgcn_coco_small_io.npz")
    with torch.no_grad():
        logits = model(torch.from_numpy(io["x"]).permute(0, 4, 2, 3, 1))[0].numpy()
    assert np.abs(logits - io["logits"]).max() <= 1e-4
    with pytest.raises(CheckpointError, match="17-joint graph; layout 'ntu25' has 25"):
        load_mmaction2_stgcn(FIXTURE / "stgcn_coco_small.pth", "ntu25")


def test_import_mmaction2_writes_a_partkd_teacher(tmp_path: Path) -> None:
    from partkd.checkpoints import load_checkpoint

    (tmp_path / "names.txt").write_text("a\nb\nc\nd\ne\n")
    done = subprocess.run([sys.executable, "-m", "partkd", "import-mmaction2", str(FIXTURE / "stgcn_coco_small.pth"),
                           "--layout", "coco17", "--class-names", str(tmp_path / "names.txt"), "--persons", "2",
                           "--frames", "24", "--out", str(tmp_path / "t")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = load_checkpoint(tmp_path / "t")
    assert loaded.role == "teacher" and loaded.class_names == list("abcde")
    assert loaded.meta["input"] == {"frames": 24, "persons": 2, "mode": "pad", "normalize": False}
    io = np.load(FIXTURE / "stgcn_coco_small_io.npz")
    with torch.no_grad():
        logits = loaded.model.eval()(torch.from_numpy(io["x"]).permute(0, 4, 2, 3, 1))[0].numpy()
    assert np.abs(logits - io["logits"]).max() <= 1e-4                      # survives the save / load round trip
    bad = subprocess.run([sys.executable, "-m", "partkd", "import-mmaction2", str(tmp_path / "names.txt"),
                          "--layout", "coco17", "--classes", "5", "--out", str(tmp_path / "u")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "names.txt" in bad.stderr
