"""Interactive widgets for the course notebooks.

Each widget takes the functions it shows as arguments, so a learner's own code
drives it, and returns an ``ipywidgets.VBox`` (a :class:`Panel`) with ``.figure``,
``.controls`` and ``.update()``. The submodules follow the course: ``schedule``,
``forward``, ``reverse`` (02), ``vi`` (01), ``diffusion_policy`` (03), ``dit`` (04, 05),
``flows`` (06), ``flow_fields`` and ``paths`` (07, 08), ``pi0`` (09).
"""
from ._plumbing import Panel, polylines
from .diffusion_policy import chunk_explorer, horizon_explorer, rollout_figure
from .dit import guidance_explorer, norm_comparison, unified_slot_map
from .flow_fields import flow_field_explorer
from .flows import flow_explorer
from .forward import forward_noising_explorer
from .mixture import mixture_eps_model, ring_means, sample_mixture
from .paths import path_comparison_explorer
from .pi0 import attention_mask_explorer, time_distribution_explorer
from .reverse import reverse_sampling_player
from .schedule import schedule_explorer
from .vi import elbo_explorer

__all__ = [
    "Panel",
    "polylines",
    # 01 variational inference
    "elbo_explorer",
    # 02 DDPM
    "schedule_explorer",
    "forward_noising_explorer",
    "reverse_sampling_player",
    "mixture_eps_model",
    "ring_means",
    "sample_mixture",
    # 03 Diffusion Policy
    "horizon_explorer",
    "chunk_explorer",
    "rollout_figure",
    # 04, 05 Diffusion Transformers
    "guidance_explorer",
    "norm_comparison",
    "unified_slot_map",
    # 06 normalizing flows, 07, 08 flow matching
    "flow_explorer",
    "flow_field_explorer",
    "path_comparison_explorer",
    # 09 pi0
    "attention_mask_explorer",
    "time_distribution_explorer",
]
