"""Per-assignment material, one package per assignment (named by its short name, see ``coursekit.registry``).

Each holds ``cases.py`` (the seeded inputs of the checks) and the material only that assignment
uses (environments, data, models). Learners see it; it never holds a graded function's reference.
"""
