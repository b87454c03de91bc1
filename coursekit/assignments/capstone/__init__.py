"""Material of 10_capstone (see ``coursekit.registry``)."""
