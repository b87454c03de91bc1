"""Registry of named mistakes: wrong versions of graded functions, each with a label and a hint.

Used twice: the build stores their outputs next to the expected ones so visible checks
can recognise them, and the grading tests turn each into a simulated submission.
"""
from __future__ import annotations

import inspect
import re
import textwrap
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Mistake:
    function: str   # the graded function this is a wrong version of
    label: str      # short name shown to the learner
    hint: str       # what to change
    fn: Callable
    showcase: bool = False  # graded end to end with the real nbgrader in the tests

    def source(self) -> str:
        """The wrong function's (or class's) source, decorator removed and renamed to the graded name."""
        lines = textwrap.dedent(inspect.getsource(self.fn)).splitlines()
        body = lines[next(i for i, ln in enumerate(lines) if ln.startswith(("def ", "class "))):]  # drop the decorator
        for keyword in ("def", "class"):
            body[0] = re.sub(rf"^{keyword} {self.fn.__name__}\b", f"{keyword} {self.function}", body[0])
        return "\n".join(body) + "\n"


def registry():
    """``mistake = registry()`` gives a decorator; ``mistake.all`` lists what it registered."""
    found: list[Mistake] = []

    def mistake(function: str, label: str, hint: str, showcase: bool = False):
        def register(fn):
            found.append(Mistake(function, label, hint, fn, showcase))
            return fn
        return register

    mistake.all = found
    return mistake
