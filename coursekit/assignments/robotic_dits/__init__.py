"""Material of 05_robotic_dits (see ``coursekit.registry``)."""
