"""The checking machinery, one job per module:

- ``cases``      the seeded inputs of a graded function, and running a function on them;
- ``judge``      THE decision: does an output pass, what differs, which mistake it is;
- ``diagnosis``  the judge's general diagnosis for mistakes no registry names;
- ``visible``    ``check(name, fn)`` in the learner's notebook (calls the judge);
- ``record``     the grading record the kernel publishes for the grader (judged outside the kernel);
- ``harness``    building and seeding graded ``nn.Module`` classes so they can be compared;
- ``runtime``    skipping ungraded experiment cells while nbgrader autogrades.
"""
