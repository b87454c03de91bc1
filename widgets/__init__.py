"""Interactive widgets for the course notebooks.

Each widget takes the functions it shows as arguments, so a learner's own code
drives it, and returns an ``ipywidgets.VBox`` (a :class:`Panel`) with ``.figure``,
``.controls`` and ``.update()``. Each assignment's widgets carry its short name:
``variational`` (01), ``ddpm_schedule``, ``ddpm_forward``, ``ddpm_reverse`` (02),
``diffusion_policy`` (03), ``diffusion_transformer`` (04), ``robotic_dits`` (05), ``flows`` (06),
``flow_matching`` (07), ``ot_paths`` (08), ``pi0`` (09).

The machinery, by job: ``_panel`` (the Panel: layout, wiring, what tests read), ``_bank`` (frame
banks drawn in the page), ``_hooks`` and ``js/`` (the page side), ``_figure`` (the FigureWidget
and its plotly workarounds), ``_plumbing`` (controls and checks every widget uses).
"""
from ._figure import Figure
from ._panel import Panel
from ._plumbing import polylines
from .bridge import bound_explorer, langevin_explorer, parameterisation_explorer, solver_explorer
from .capstone import arm_player, formation_player
from .ddpm_forward import forward_noising_explorer
from .ddpm_reverse import reverse_sampling_player
from .ddpm_schedule import schedule_explorer
from .diffusion_policy import chunk_explorer, horizon_explorer, rollout_figure
from .diffusion_transformer import guidance_explorer
from .flow_matching import flow_field_explorer
from .flows import flow_explorer
from .mixture import mixture_eps_model, ring_means, sample_mixture
from .ot_paths import path_comparison_explorer
from .pi0 import attention_mask_explorer, time_distribution_explorer
from .robotic_dits import norm_comparison, unified_slot_map
from .variational import elbo_explorer

__all__ = [
    "Panel",
    "Figure",
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
    # 02b the theory bridge
    "langevin_explorer",
    "parameterisation_explorer",
    "solver_explorer",
    "bound_explorer",
    # 03 Diffusion Policy
    "horizon_explorer",
    "chunk_explorer",
    "rollout_figure",
    # 04 Diffusion Transformers, 05 robotic DiTs
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
    # 10 capstone
    "arm_player",
    "formation_player",
]
