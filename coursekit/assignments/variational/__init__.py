"""Material of 01_variational_inference (see ``coursekit.registry``)."""
