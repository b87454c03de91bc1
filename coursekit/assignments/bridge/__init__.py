"""Material of 02b_theory_bridge (see ``coursekit.registry``)."""
