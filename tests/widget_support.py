"""Helpers the widget tests share: find a trace by name, compare what a figure carries."""
from __future__ import annotations

import numpy as np

from widgets._plumbing import to_numpy


def trace(fig, name):
    """The one trace of ``fig`` called ``name`` (fails if there are none or several)."""
    (found,) = [t for t in fig.data if t.name == name]
    return found


def assert_float_array(got, want):
    """``got`` is a float numpy array (what the page receives fast) equal to ``want``."""
    assert isinstance(got, np.ndarray) and got.dtype.kind == "f", type(got)
    np.testing.assert_allclose(got, to_numpy(want), rtol=1e-9, atol=1e-12)
