"""Material of 02_ddpm (see ``coursekit.registry``)."""
