"""Material of 03_diffusion_policy (see ``coursekit.registry``)."""
