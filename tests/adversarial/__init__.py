"""Adversarial submissions for the grading pipeline (see corpus.py and tests/test_grade_adversarial.py)."""
