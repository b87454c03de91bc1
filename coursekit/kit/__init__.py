"""The shared kit: toy data, small models, a training loop, metrics, ODE integration, diffusion
utilities and transformer parts that several assignments use. Learners see it; it never holds a
graded function's reference.
"""
