"""Part-level knowledge distillation: part features, the part-efficiency matrix E and the KD losses."""
from partkd.distill.efficiency import (carrier_recovery, efficiency_softmax, part_keep_masks, part_miss_matrix,
                                       part_occlusion_effects)
from partkd.distill.losses import (
    backward_with_revision,
    cosine_similarity_matrix,
    global_msc_loss,
    joint_affinity,
    kl_distill_loss,
    multi_sample_contrastive_loss,
    part_similarity,
    pmsc_loss,
    revise_gradient,
    skd_loss,
)
from partkd.distill.parts import global_features, part_features, persons_present

__all__ = [
    "backward_with_revision", "carrier_recovery", "cosine_similarity_matrix", "efficiency_softmax", "global_features",
    "global_msc_loss", "joint_affinity", "kl_distill_loss", "multi_sample_contrastive_loss",
    "part_features", "part_keep_masks", "part_miss_matrix", "part_occlusion_effects", "part_similarity", "persons_present",
    "pmsc_loss", "revise_gradient", "skd_loss",
]
