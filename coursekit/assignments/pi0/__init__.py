"""Material of 09_pi0 (see ``coursekit.registry``)."""
