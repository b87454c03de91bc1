"""Interactive widgets for the course notebooks.

Each widget takes the functions it shows as arguments, so a learner's own code
drives it, and returns an ``ipywidgets.VBox`` (a :class:`Panel`) with ``.figure``,
``.controls`` and ``.update()``.
"""
from ._plumbing import Panel
from .forward import forward_noising_explorer
from .mixture import mixture_eps_model, ring_means, sample_mixture
from .reverse import reverse_sampling_player
from .schedule import schedule_explorer
from .vi import elbo_explorer

__all__ = [
    "Panel",
    "schedule_explorer",
    "forward_noising_explorer",
    "reverse_sampling_player",
    "mixture_eps_model",
    "ring_means",
    "sample_mixture",
    "elbo_explorer",
]
