"""Alias of ``coursekit.cases.cnf`` for lookups by assignment name ('06_normalizing_flows' ->
'normalizing_flows'); the cases live in ``cnf.py``, named after the solutions module."""
from coursekit.cases.cnf import divergence, euler_integrate, log_density, rk4_integrate  # noqa: F401
