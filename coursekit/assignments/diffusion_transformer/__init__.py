"""Material of 04_diffusion_transformer (see ``coursekit.registry``)."""
