"""Part-level knowledge distillation: part features, the part-efficiency matrix E, the KD losses and the KD-method
registry. Names are imported from their modules on first use (PEP 562), so the torch-free registry
(distill.methods) can be read by the config and the CLI without loading torch."""

from __future__ import annotations

from partkd.lazy import lazy_exports

_HOME: dict[str, str] = {
    "backward_with_revision": "partkd.distill.losses",
    "carrier_recovery": "partkd.distill.efficiency",
    "cosine_similarity_matrix": "partkd.distill.losses",
    "efficiency_softmax": "partkd.distill.efficiency",
    "global_features": "partkd.distill.parts",
    "global_msc_loss": "partkd.distill.losses",
    "joint_affinity": "partkd.distill.losses",
    "kl_distill_loss": "partkd.distill.losses",
    "multi_sample_contrastive_loss": "partkd.distill.losses",
    "part_features": "partkd.distill.parts",
    "part_keep_masks": "partkd.distill.efficiency",
    "part_miss_matrix": "partkd.distill.efficiency",
    "part_occlusion_effects": "partkd.distill.efficiency",
    "part_similarity": "partkd.distill.losses",
    "persons_present": "partkd.distill.parts",
    "pmsc_loss": "partkd.distill.losses",
    "revise_gradient": "partkd.distill.losses",
    "skd_loss": "partkd.distill.losses",
}

__all__ = sorted(_HOME)

__getattr__ = lazy_exports(__name__, _HOME)
