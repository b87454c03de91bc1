"""Material of 08_diffusion_and_ot_paths (see ``coursekit.registry``)."""
