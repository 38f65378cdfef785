"""Checkpoints: safetensors + JSON round-trip, integrity checks, safe .pt loading, listing."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from partkd import __version__
from partkd.checkpoints import (list_checkpoints, load_checkpoint, model_meta, read_meta, read_tensors,
                                resume_tensors, save_checkpoint, update_meta)
from partkd.errors import CheckpointError
from partkd.layouts import get_layout
from partkd.models import build_model, resolve_config


def _model_and_meta(classes: int = 3) -> tuple[torch.nn.Module, dict]:
    layout = get_layout("coco17")
    cfg = replace(resolve_config("stgcn", "tiny"), persons=1)
    torch.manual_seed(0)
    model = build_model("stgcn", layout, classes, cfg)
    meta = {"role": "student", "layout": layout.to_dict(), "class_names": [f"c{i}" for i in range(classes)],
            "model": model_meta(cfg, classes), "input": {"frames": 12, "persons": 1, "mode": "pad"},
            "metrics": {"val_top1": 0.5}}
    return model, meta


def _logits(model: torch.nn.Module) -> torch.Tensor:
    x = torch.randn(2, 3, 12, 17, 1, generator=torch.Generator().manual_seed(1))
    model.eval()
    with torch.no_grad():
        return model(x)[0]


def test_round_trip_gives_the_same_logits_and_metadata(tmp_path: Path) -> None:
    model, meta = _model_and_meta()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)  # not the initial weights
    weights = save_checkpoint(tmp_path / "m", model, meta)
    assert weights == tmp_path / "m.safetensors" and (tmp_path / "m.json").exists()
    for path in (weights, tmp_path / "m.json", tmp_path / "m"):
        loaded = load_checkpoint(path)
        torch.testing.assert_close(_logits(loaded.model), _logits(model))
    stored = read_meta(weights)
    assert stored["code_version"].startswith(__version__) and stored["created"] and "command" in stored
    assert stored["metrics"] == {"val_top1": 0.5} and len(stored["weights_sha256"]) == 64
    assert not list(tmp_path.glob("*.tmp"))


def test_weights_not_matching_their_metadata_are_refused(tmp_path: Path) -> None:
    model, meta = _model_and_meta()
    weights = save_checkpoint(tmp_path / "m", model, meta)
    blob = bytearray(weights.read_bytes())
    blob[-1] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="do not match their metadata"):
        load_checkpoint(weights)


def test_metadata_describing_another_model_is_refused(tmp_path: Path) -> None:
    model, meta = _model_and_meta()
    save_checkpoint(tmp_path / "m", model, meta)
    update_meta(tmp_path / "m", model={**meta["model"], "num_classes": 5})
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "m")


def test_missing_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.safetensors")
    (tmp_path / "x.json").write_text(json.dumps({"hello": 1}))
    with pytest.raises(CheckpointError, match="not a partkd checkpoint"):
        read_meta(tmp_path / "x.json")


def test_pt_files_load_only_plain_tensors(tmp_path: Path) -> None:
    model, meta = _model_and_meta()
    save_checkpoint(tmp_path / "m", model, meta)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    torch.testing.assert_close(_logits(load_checkpoint(tmp_path / "m.pt").model), _logits(model))

    class Evil:
        def __reduce__(self) -> tuple:
            return (print, ("pickle code ran",))

    torch.save({"w": Evil()}, tmp_path / "evil.pt")
    (tmp_path / "evil.json").write_text((tmp_path / "m.json").read_text())
    with pytest.raises(CheckpointError, match="plain tensor state dict"):
        read_tensors(tmp_path / "evil.pt")


def test_resume_tensors_are_kept_apart_from_the_model(tmp_path: Path) -> None:
    model, meta = _model_and_meta()
    save_checkpoint(tmp_path / "last", model, {**meta, "resume": {"epoch": 2}}, extra={"optim.0": torch.ones(3)})
    stored, state, extra = resume_tensors(tmp_path / "last")
    assert stored["resume"] == {"epoch": 2} and set(state) == set(model.state_dict())
    torch.testing.assert_close(extra["optim.0"], torch.ones(3))
    load_checkpoint(tmp_path / "last")  # strict load ignores the resume tensors


def test_list_checkpoints_skips_resume_points(tmp_path: Path) -> None:
    model, meta = _model_and_meta()
    save_checkpoint(tmp_path / "run" / "model", model, {**meta, "role": "teacher", "name": "t"})
    save_checkpoint(tmp_path / "run" / "last", model, meta)
    rows = list_checkpoints(tmp_path)
    assert [(r["role"], r["name"], r["layout"]) for r in rows] == [("teacher", "t", "coco17")]
    assert rows[0]["classes"] == ["c0", "c1", "c2"] and rows[0]["metrics"] == {"val_top1": 0.5}


def test_schema_version_is_written_older_files_load_and_newer_are_refused(tmp_path: Path) -> None:
    from partkd.checkpoints import SCHEMA_VERSION

    model, meta = _model_and_meta()
    weights = save_checkpoint(tmp_path / "m", model, meta)
    assert read_meta(weights)["schema_version"] == SCHEMA_VERSION == 2
    doc = json.loads((tmp_path / "m.json").read_text())
    del doc["schema_version"]                                   # a file from before the key existed (version 0)
    (tmp_path / "m.json").write_text(json.dumps(doc))
    torch.testing.assert_close(_logits(load_checkpoint(weights).model), _logits(model))
    for bad in (SCHEMA_VERSION + 1, "1", -1):
        (tmp_path / "m.json").write_text(json.dumps({**doc, "schema_version": bad}))
        with pytest.raises(CheckpointError, match="metadata schema .* is not one this partkd reads"):
            read_meta(weights)


@pytest.mark.parametrize("name", ["teacher", "student_nokd", "student_pmsc"])
def test_the_shipped_checkpoints_load(name: str) -> None:
    path = Path(__file__).resolve().parent.parent / "checkpoints" / f"{name}.safetensors"
    if not path.exists():
        pytest.skip("shipped checkpoints not built")
    loaded = load_checkpoint(path)
    assert loaded.role == ("teacher" if name == "teacher" else "student") and loaded.meta.get("schema_version", 0) <= 2


def test_schema_1_synthetic_checkpoints_read_as_the_coupled_action_set(tmp_path: Path) -> None:
    model, meta = _model_and_meta()
    weights = save_checkpoint(tmp_path / "m", model, {**meta, "data": {"source": "synthetic", "num_classes": 3}})
    assert "synth_motion" not in read_meta(weights)["data"]  # written now: the engine's spec states it
    doc = json.loads((tmp_path / "m.json").read_text())
    (tmp_path / "m.json").write_text(json.dumps({**doc, "schema_version": 1}))
    assert read_meta(weights)["data"]["synth_motion"] == "coupled"
    (tmp_path / "m.json").write_text(json.dumps({**doc, "data": {"source": "/x", "format": "npz"}, "schema_version": 1}))
    assert "synth_motion" not in read_meta(weights)["data"]


def test_a_checkpoint_names_the_occlusion_reading_its_student_trained_under() -> None:
    from partkd.checkpoints import Loaded
    from partkd.data.occlusion import DEFAULT_OCCLUSION_MODE

    assert DEFAULT_OCCLUSION_MODE != "span"
    assert Loaded(None, {"role": "student", "degradation": {"op": 0.6, "mode": "span"}}, Path("s")).occlusion == "span"
    assert Loaded(None, {"role": "teacher"}, Path("t")).occlusion == DEFAULT_OCCLUSION_MODE
    assert Loaded(None, {"role": "student", "degradation": {"op": 0.6}}, Path("old")).occlusion == DEFAULT_OCCLUSION_MODE
