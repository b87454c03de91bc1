"""Shared plumbing for the Action Diffusion course.

Learners see this package: input validation, visible checks that name common
mistakes, toy data, small models, a training loop and distribution metrics.
It never contains reference solutions; those live in ``solutions/`` and reach
learners only as numbers (the expected outputs stored in ``coursekit/fixtures``).
"""
