"""Reference implementations of every graded function in the course.

Each graded function's source is copied verbatim into the instructor notebook
by ``python -m autograder build``; the ``### BEGIN SOLUTION`` / ``### END SOLUTION``
regions are what ``nbgrader generate_assignment`` removes for learners.
This package is instructor-only: the student release never imports it.
"""
