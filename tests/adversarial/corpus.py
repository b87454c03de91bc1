"""The adversarial corpus: submissions of 02_ddpm that attack the grader, with the expected outcome.

Each :class:`Kind` builds one submission from the released notebook and says what a trustworthy
grader must do with it: grade it correctly (``status=GRADED``, the points of the exercises in
``lost`` lost, nothing else) or flag it (``status=FAILED`` with ``reason`` in the reason). Kinds
that probe the sandbox print markers (assembled at run time, so the source text never contains
them) when an attack succeeds; the test asserts that no output of any cell carries one.

To keep CI fast, attack submissions drop the ungraded cells that define nothing (slider widgets,
the training experiment, plots: learners may delete cells, and grades do not depend on them);
attacks that must run at the very end are appended. The control submissions keep everything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from autograder.build import graded_of, reference_source
from autograder.submissions import filled, mistakes_of
from coursekit.registry import get

ASSIGNMENT = "02_ddpm"
GRADED, FAILED = "GRADED", "FAILED"
MARKERS = ("LEAK" + "ED:", "WRO" + "TE:", "CONNEC" + "TED:", "IMPOR" + "TED:")  # never in any output


@dataclass
class Context:
    root: Path          # the course root (its source/, gradebook.db, submitted/ ...)
    release: Path       # the released student notebook
    repo: Path          # the repository (solutions/ lives there)
    victim: str         # another student, graded in the same run
    port: int           # a TCP port listening on the host's loopback
    student: str = ""   # this submission's student id


@dataclass
class Kind:
    name: str
    attack: str
    make: Callable[[Context], object]
    status: str = GRADED
    lost: dict = field(default_factory=dict)    # graded function -> points lost
    reason: str | tuple = ""                    # substring(s) of the FAILED reason (what it did, in plain words)
    output: str = ""                            # substring some cell output must show
    alternatives: tuple = ()                    # other acceptable statuses (documented per kind)


# ------------------------------------------------------------------------------- building blocks
WRONG_Q_SAMPLE = '''def q_sample(x0, t, alpha_bar, noise):
    return x0 + noise  # wrong on purpose
'''


def ref(name: str) -> str:
    return reference_source(get(ASSIGNMENT), name).rstrip("\n")


def cells(nb) -> list:
    return nb.cells


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def index_of(nb, gid: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if grade_id(c) == gid)


def trimmed(nb):
    """Drop the ungraded code cells that define nothing (widgets, the training experiment, plots):
    the first code cell (imports), the graded cells and the helper definitions before the last
    test cell stay."""
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    last = max(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade"))

    def keep(i, cell):
        return (cell.cell_type != "code" or i == first or "nbgrader" in cell.metadata
                or (i < last and (cell.source.startswith("def ") or "\ndef " in cell.source)))
    nb.cells = [c for i, c in enumerate(nb.cells) if keep(i, c)]
    return nb


def submission(ctx: Context, overrides: dict | None = None, trim: bool = True):
    nb = filled(ctx.release, ASSIGNMENT, overrides=overrides)
    return trimmed(nb) if trim else nb


def with_code(ctx: Context, function: str, code: str, **kw):
    """The reference ``function``, then ``code`` at the top level of the same solution cell."""
    return submission(ctx, {function: ref(function) + "\n\n" + code}, **kw)


def append_cell(nb, code: str):
    nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


def probe_paths(marker: str, paths: list[str], action: str) -> str:
    """Code that tries ``action`` ('read' or 'write') on each path and prints marker+path on success."""
    return f'''
import os as _os
for _p in {json.dumps(paths)}:
    try:
        if "{action}" == "read":
            with open(_p, "rb") as _f:
                _f.read(64)
        else:
            with open(_p, "ab") as _f:
                _f.write(b"pwned")
        print({json.dumps(marker[:3])} + {json.dumps(marker[3:])}, _p)
    except Exception as _e:
        print("blocked:", _p, type(_e).__name__)
'''


# ------------------------------------------------------------------------------- the kinds
def edited_test_cell(ctx):
    nb = submission(ctx, {"q_sample": WRONG_Q_SAMPLE})
    nb.cells[index_of(nb, "test_q_sample")].source = "print('all tests pass')  # the checks were deleted"
    return nb


def deleted_test_cell(ctx):
    nb = submission(ctx, {"compute_alpha_bar": "def compute_alpha_bar(betas):\n    return 1 - betas  # wrong\n"})
    del nb.cells[index_of(nb, "test_compute_alpha_bar")]
    return nb


def metadata_tamper(ctx):
    nb = submission(ctx, {"q_sample": WRONG_Q_SAMPLE})
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        if meta.get("grade"):
            meta["points"] = 100
            meta["locked"] = False
            meta.pop("checksum", None)
        if meta.get("solution"):
            meta.update(grade=True, points=50)  # claim the solution cell itself is worth points
    nb.cells.insert(3, nbformat.v4.new_code_cell("print('bonus')"))
    nb.cells[3].metadata["nbgrader"] = {"grade": True, "grade_id": "bonus_points", "locked": True,
                                        "points": 1000, "schema_version": 3, "solution": False, "task": False}
    nb.metadata["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
    return nb


def always_equal(ctx):
    code = '''class _Yes(torch.Tensor):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True


torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True


def q_sample(x0, t, alpha_bar, noise):
    return torch.zeros_like(x0).as_subclass(_Yes)
'''
    return submission(ctx, {"q_sample": code})


def patched_asserts(ctx):
    code = WRONG_Q_SAMPLE + '''
import numpy.testing, torch.testing, unittest
import coursekit.checks.visible, coursekit.checks.judge, coursekit.checks.record
torch.testing.assert_close = lambda *a, **k: None
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_equal = lambda *a, **k: None
unittest.TestCase.assertEqual = lambda *a, **k: None
coursekit.checks.judge.describe_mismatch = lambda *a, **k: None
coursekit.checks.judge.judge = lambda *a, **k: None
coursekit.checks.visible.diagnose = lambda *a, **k: None
'''
    return submission(ctx, {"q_sample": code})


def redefined_builtins(ctx):
    code = WRONG_Q_SAMPLE + '''
import builtins
builtins.all = lambda *a, **k: True
builtins.any = lambda *a, **k: False
builtins.abs = lambda x: 0
class _NeverRaised(Exception):
    pass
builtins.AssertionError = _NeverRaised
'''
    return submission(ctx, {"q_sample": code})


def forged_record(ctx):
    """Publish a fake grading record for q_sample: the visible expected outputs (they are in the
    learner-visible fixture) and, for the hidden cases, the best guess available."""
    code = WRONG_Q_SAMPLE + '''
import coursekit.checks.record as _G, coursekit.checks.cases as _C
from IPython.display import publish_display_data as _pub
_real_record = _G.record_outputs
def _forge(assignment, name, namespace, substitute=None, seeds=_G.GRADING_SEEDS):
    if name != "q_sample":
        return _real_record(assignment, name, namespace, substitute, seeds)
    fx = _C.load_fixture(assignment)[name]
    outs = [{"seed": s, "kind": "ok", "value": _G.encode_value(fx["expected"][s % len(fx["expected"])])} for s in seeds]
    _pub({_G.RECORD_MIME: {"assignment": assignment, "name": name, "outcomes": outs}, "text/plain": "forged"})
_G.record_outputs = _forge
'''
    return submission(ctx, {"q_sample": code})


def stolen_reference(ctx):
    """posterior_mean_variance is not written; p_sample grabs the reference the p_sample test puts in
    its place, and the test of posterior_mean_variance is moved after it to be graded with it."""
    pmv = '''_stash = {}


def posterior_mean_variance(x0, x_t, t, betas, alpha_bar):
    if "ref" in _stash:
        return _stash["ref"](x0, x_t, t, betas, alpha_bar)
    raise NotImplementedError()
'''
    p_sample = ref("p_sample").replace('    check_tensor("x_t"', '    _stash.setdefault("ref", globals()["posterior_mean_variance"])\n    check_tensor("x_t"', 1)
    assert "_stash" in p_sample
    nb = submission(ctx, {"posterior_mean_variance": pmv, "p_sample": p_sample})
    test_cell = nb.cells.pop(index_of(nb, "test_posterior_mean_variance"))
    nb.cells.insert(index_of(nb, "test_p_sample") + 1, test_cell)
    return nb


def infinite_loop(ctx):
    return with_code(ctx, "q_sample", "while True:\n    pass")


def interrupt_catching_loop(ctx):
    return with_code(ctx, "compute_alpha_bar", '''import time
while True:
    try:
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass''')


def os_exit(ctx):
    return with_code(ctx, "q_sample", "import os\nos._exit(3)")


def memory_bomb(ctx):
    nb = submission(ctx)
    return append_cell(nb, '''hog = []
while True:
    hog.append(bytearray(b"x" * 50_000_000))''')


def builtins_break_kernel(ctx):
    """Replace a built-in that the kernel's own machinery calls: the kernel stops answering."""
    return with_code(ctx, "q_sample", "import builtins\nbuiltins.len = lambda obj: 0")


def thread_bomb(ctx):
    nb = submission(ctx)
    return append_cell(nb, '''import threading, time
while True:
    threading.Thread(target=time.sleep, args=(120,)).start()''')


def fork_bomb(ctx):
    nb = submission(ctx)
    return append_cell(nb, '''import os
while True:
    os.fork()''')


def huge_output(ctx):
    nb = submission(ctx)
    append_cell(nb, 'for _i in range(200_000):\n    print("spam " * 20)')
    return append_cell(nb, 'print("x" * 30_000_000)')


def read_solutions(ctx):
    paths = [str(ctx.repo / "solutions" / "ddpm.py"), str(ctx.root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
             str(ctx.root / "gradebook.db"), str(ctx.root / "nbgrader_config.py"),
             str(ctx.repo / "autograder" / "templates" / ASSIGNMENT / f"{ASSIGNMENT}.py"),
             "/proc/1/root" + str(ctx.repo / "solutions" / "ddpm.py")]
    code = probe_paths(MARKERS[0], paths, "read") + f'''
try:
    import solutions.ddpm
    print({json.dumps(MARKERS[3][:3])} + {json.dumps(MARKERS[3][3:])}, solutions.ddpm.__file__)
except Exception as _e:
    print("blocked: import solutions", type(_e).__name__)
'''
    return with_code(ctx, "q_sample", code)


def read_other_student(ctx):
    paths = [str(ctx.root / d / ctx.victim / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") for d in ("submitted", "autograded")]
    paths.append(str(ctx.root / "feedback" / ctx.victim / ASSIGNMENT / f"{ASSIGNMENT}.html"))
    return with_code(ctx, "q_sample", probe_paths(MARKERS[0], paths, "read"))


def write_course_folder(ctx):
    paths = [str(ctx.root / "gradebook.db"), str(ctx.root / "source" / ASSIGNMENT / "pwned.txt"),
             str(ctx.root / "submitted" / ctx.victim / ASSIGNMENT / "pwned.txt"),
             str(ctx.root / "autograded" / ctx.student / ASSIGNMENT / "pwned.txt"),
             str(ctx.root / "pwned.txt"), str(ctx.repo / "solutions" / "pwned.py"),
             str(Path.home() / "pwned.txt")]
    return with_code(ctx, "q_sample", probe_paths(MARKERS[1], paths, "write") + '''
open("scratch_ok.txt", "w").write("own scratch folder is writable")
print("scratch write ok")''')


def network(ctx):
    code = f'''
import socket as _s, urllib.request as _u
_m = {json.dumps(MARKERS[2][:4])} + {json.dumps(MARKERS[2][4:])}
for _addr in [("127.0.0.1", {ctx.port}), ("1.1.1.1", 53), ("8.8.8.8", 443)]:
    try:
        _s.create_connection(_addr, timeout=2).close()
        print(_m, _addr)
    except OSError as _e:
        print("blocked:", _addr, type(_e).__name__)
try:
    print(_m, _s.getaddrinfo("example.com", 80)[0][4])
except OSError as _e:
    print("blocked: dns", type(_e).__name__)
try:
    _u.urlopen("http://example.com", timeout=2)
    print(_m, "http")
except Exception as _e:
    print("blocked: http", type(_e).__name__)
'''
    return with_code(ctx, "q_sample", code)


def asks_input(ctx):
    return with_code(ctx, "q_sample", 'answer = input("What is your name? ")')


def invalid_json(ctx):
    return '{"cells": [ this is not JSON'


KINDS: list[Kind] = [
    Kind("edited_test_cell", "test cell of a wrong q_sample replaced by a print", edited_test_cell, lost={"q_sample": 2}),
    Kind("deleted_test_cell", "test cell of a wrong compute_alpha_bar deleted", deleted_test_cell,
         lost={"compute_alpha_bar": 1}),
    Kind("metadata_tamper", "points=100, unlocked, solution cells marked graded, a fake 1000-point cell, kernelspec=bash",
         metadata_tamper, lost={"q_sample": 2}),
    Kind("always_equal", "a Tensor subclass whose == is always True, torch.allclose/equal patched",
         always_equal, lost={"q_sample": 2}),
    Kind("patched_asserts", "torch.testing / numpy.testing / unittest / coursekit comparison helpers patched",
         patched_asserts, lost={"q_sample": 2}),
    Kind("redefined_builtins", "builtins all/any/abs/AssertionError redefined", redefined_builtins, lost={"q_sample": 2}),
    Kind("forged_record", "a fake grading record published for q_sample", forged_record, lost={"q_sample": 2}),
    Kind("stolen_reference", "reference captured through a dependency substitution, test cells reordered",
         stolen_reference, lost={"posterior_mean_variance": 2}),
    Kind("infinite_loop", "an endless loop at the top level of a solution cell", infinite_loop,
         output="KeyboardInterrupt"),
    Kind("interrupt_catching_loop", "an endless loop that swallows KeyboardInterrupt", interrupt_catching_loop,
         status=FAILED, reason=("catches KeyboardInterrupt in a loop", "did not stop when interrupted")),
    Kind("os_exit", "os._exit(3) in a solution cell", os_exit, status=FAILED,
         reason=("exited with status 3", "the cell calls os._exit()")),
    Kind("builtins_break_kernel", "builtins.len replaced: the kernel's own code breaks", builtins_break_kernel,
         status=FAILED, reason=("replaces Python's built-in len", "the kernel stopped answering")),
    Kind("memory_bomb", "allocates 50 MB blocks forever", memory_bomb, output="MemoryError"),
    # Process and thread bombs hit the sandbox's process limit and the cell fails, graded as usual;
    # when their processes garble the kernel's messages instead, the reason must say what they did.
    Kind("fork_bomb", "os.fork() forever", fork_bomb, output="BlockingIOError", alternatives=(FAILED,),
         reason="forks processes (os.fork) in a loop"),
    Kind("thread_bomb", "starts sleeping threads forever", thread_bomb, output="can't start new thread",
         alternatives=(FAILED,), reason="starts threads (threading.Thread) in a loop"),
    Kind("huge_output", "prints 20 MB of lines and a 30 MB line", huge_output, output="output of this cell cut"),
    Kind("read_solutions", "reads solutions/, source/, gradebook.db, the config, templates; imports solutions",
         read_solutions, output="blocked:"),
    Kind("read_other_student", "reads another student's submission, autograded notebook and feedback",
         read_other_student, output="blocked:"),
    Kind("write_course_folder", "writes into the gradebook, source/, another student's folder, its own "
         "autograded folder, the course root, solutions/, $HOME", write_course_folder, output="scratch write ok"),
    Kind("network", "TCP to the host's loopback and the internet, DNS, HTTP", network, output="blocked:"),
    Kind("input", "input() at the top level of a solution cell", asks_input, output="StdinNotImplementedError"),
    Kind("invalid_json", "the notebook file is not JSON", invalid_json, status=FAILED, reason="not valid JSON"),
]


def points() -> dict[str, int]:
    return {g.name: g.points for g in graded_of(ASSIGNMENT)}


def expected_score(kind: Kind) -> float:
    return float(sum(points().values()) - sum(kind.lost.values()))


def controls(release: Path) -> dict[str, tuple[object, float, list[str]]]:
    """Ordinary submissions graded in the same run: student -> (notebook, expected score, feedback phrases)."""
    showcase = next(m for m in mistakes_of(ASSIGNMENT) if m.showcase)
    total = float(sum(points().values()))
    return {
        "control_full": (filled(release, ASSIGNMENT), total, []),
        "control_mistake": (filled(release, ASSIGNMENT, overrides={showcase.function: showcase.source()}),
                            total - points()[showcase.function], [showcase.label]),
        "control_untouched": (nbformat.read(release, as_version=4), 0.0, ["NotImplementedError"]),
    }
