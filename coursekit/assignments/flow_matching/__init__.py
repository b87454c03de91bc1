"""Material of 07_flow_matching (see ``coursekit.registry``)."""
