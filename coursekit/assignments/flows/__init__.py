"""Material of 06_normalizing_flows (see ``coursekit.registry``)."""
