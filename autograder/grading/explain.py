"""Why a submission could not be graded, in plain words: what the submission did, and in which cell.

When a kernel dies, stops answering or garbles its messages, what the grader sees is a symptom
(``DeadKernelError``, a timeout waiting for output, ``ValueError: Invalid Signature``) that tells
an instructor nothing. The cause is almost always in the code that ran: a cell that replaces a
built-in the kernel itself needs, forks processes or starts threads in a loop, swallows
``KeyboardInterrupt``, or exits. :func:`behaviours` reads that code (its syntax tree; nothing is
run) and names those actions; :func:`reason` puts the cause and the symptom in one sentence.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass

BUILTIN_MODULES = {"builtins", "__builtins__", "__builtin__"}
PROCESS_CALLS = {  # (module, function) -> what it does, in words
    ("os", "fork"): "forks processes (os.fork)", ("os", "forkpty"): "forks processes (os.forkpty)",
    ("pty", "fork"): "forks processes (pty.fork)",
    ("multiprocessing", "Process"): "starts processes (multiprocessing.Process)",
    ("multiprocessing", "Pool"): "starts processes (multiprocessing.Pool)",
    ("subprocess", "Popen"): "starts programs (subprocess)", ("subprocess", "run"): "starts programs (subprocess)",
    ("os", "system"): "starts programs (os.system)", ("os", "popen"): "starts programs (os.popen)",
    ("threading", "Thread"): "starts threads (threading.Thread)",
    ("_thread", "start_new_thread"): "starts threads (_thread.start_new_thread)",
    ("concurrent.futures", "ThreadPoolExecutor"): "starts threads (ThreadPoolExecutor)",
    ("concurrent.futures", "ProcessPoolExecutor"): "starts processes (ProcessPoolExecutor)",
}
EXIT_CALLS = {("os", "_exit"): "os._exit()", ("sys", "exit"): "sys.exit()", ("", "exit"): "exit()",
              ("", "quit"): "quit()", ("os", "abort"): "os.abort()", ("os", "kill"): "os.kill()"}


@dataclass
class Behaviour:
    kind: str       # "builtins", "processes", "interrupt", "exit", "loop"
    words: str      # what the code does, in plain words ("replaces Python's built-in len")


def _modules(tree: ast.AST) -> dict[str, str]:
    """Local name -> module for the imports of a cell (``import os as o`` -> {'o': 'os'})."""
    names = {"os": "os", "sys": "sys", "builtins": "builtins", "__builtins__": "builtins"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.AST, modules: dict[str, str]) -> tuple[str, str] | None:
    """(module, function) that a call's target names, with import aliases resolved."""
    if isinstance(node, ast.Name):
        full = modules.get(node.id, node.id)
        return tuple(full.rsplit(".", 1)) if "." in full else ("", full)
    if isinstance(node, ast.Attribute):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            base = modules.get(node.id, node.id)
            full = ".".join([base, *reversed(parts)])
            return tuple(full.rsplit(".", 1))
    return None


def _in_loop(node: ast.AST, parents: dict) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.While, ast.For, ast.comprehension, ast.ListComp, ast.GeneratorExp)):
            return True
    return False


def behaviours(source: str) -> list[Behaviour]:
    """What a cell's code does that can break a kernel, in plain words (most telling first)."""
    try:
        tree = ast.parse(re.sub(r"^\s*[!%].*$", "", source, flags=re.M))  # IPython magics/shell lines
    except SyntaxError:
        return []
    modules = _modules(tree)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[Behaviour] = []

    def add(kind: str, words: str) -> None:
        if not any(b.words == words for b in found):
            found.append(Behaviour(kind, words))

    replaced = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else
            node.targets if isinstance(node, ast.Delete) else [])
        for t in targets:
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and modules.get(t.value.id) in BUILTIN_MODULES:
                replaced.append(t.attr)
            elif (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == "__builtins__"
                  and isinstance(t.slice, ast.Constant)):
                replaced.append(str(t.slice.value))
        if isinstance(node, ast.Call):
            target = _dotted(node.func, modules)
            if target == ("", "setattr") and node.args and isinstance(node.args[0], ast.Name) \
                    and modules.get(node.args[0].id) in BUILTIN_MODULES and len(node.args) > 1 \
                    and isinstance(node.args[1], ast.Constant):
                replaced.append(str(node.args[1].value))
            elif target in PROCESS_CALLS:
                add("processes", PROCESS_CALLS[target] + (" in a loop" if _in_loop(node, parents) else ""))
            elif target in EXIT_CALLS:
                add("exit", f"calls {EXIT_CALLS[target]}")
            elif target == ("signal", "signal"):
                add("interrupt", "installs its own signal handler (signal.signal)")
        if isinstance(node, ast.ExceptHandler):
            caught = _dotted(node.type, modules) if node.type is not None else None
            names = [(_dotted(e, modules) or ("", ""))[1] for e in node.type.elts] if isinstance(node.type, ast.Tuple) \
                else [caught[1] if caught else ""]
            if node.type is None or {"KeyboardInterrupt", "BaseException"} & set(names):
                if _in_loop(node, parents):
                    add("interrupt", "catches KeyboardInterrupt in a loop, so the interrupt sent at the time limit "
                                     "cannot stop it")
        if isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and node.test.value:
            add("loop", "runs an endless loop (while True)")
    if replaced:
        names = ", ".join(dict.fromkeys(replaced))
        found.insert(0, Behaviour("builtins", f"replaces Python's built-in {names}"))
    order = ["builtins", "processes", "interrupt", "exit", "loop"]
    return sorted(found, key=lambda b: order.index(b.kind))


def where(index: int, source: str) -> str:
    """``cell 12 ('import os')``: the cell's position and first line, to find it in the notebook."""
    first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")[:60]
    return f"cell {index}" + (f" ({first!r})" if first else "")


def culprit(cells: list[tuple[int, str]], kinds: tuple[str, ...]) -> tuple[str, Behaviour] | None:
    """The latest cell among ``cells`` (index, source) whose code does one of ``kinds``."""
    for index, source in reversed(cells):
        for b in behaviours(source):
            if b.kind in kinds:
                return where(index, source), b
    return None


def reason(symptom: str, cells: list[tuple[int, str]], timeout: int | None = None,
           exit_status: int | None = None, detail: str = "", cpu_seconds: int | None = None) -> str:
    """The FAILED reason: what the submission did, where, and what happened then.

    ``symptom``: "timeout" (ran past the time limit and ignored the interrupt, or stopped
    answering), "signal" (the kernel was killed by signal ``exit_status - 128``), "exit" (it exited
    with ``exit_status``), or "lost" (the grader could no longer read the kernel's messages;
    ``detail`` is the error). ``cells``: (index, source) of the cells that ran, the failing one last.
    """
    import signal as _signal
    here = where(*cells[-1]) if cells else "a cell"
    this = cells[-1:]
    if symptom == "timeout":
        if (found := culprit(this, ("interrupt",))):
            return (f"{found[0]} {found[1].words}: it ran past the {timeout} s time limit and did not stop "
                    "when interrupted")
        if (found := culprit(cells, ("builtins",))):
            stopped = "" if found[0] == here else f" in {here}"
            return (f"{found[0]} {found[1].words}, which the Jupyter kernel itself relies on: the kernel stopped "
                    f"answering{stopped} (no reply within the {timeout} s time limit)")
        if (found := culprit(this, ("processes",))):
            return (f"{found[0]} {found[1].words}: the kernel stopped answering (no reply within the "
                    f"{timeout} s time limit)")
        return (f"{here} ran past the {timeout} s time limit and did not stop when interrupted "
                "(an endless loop that catches KeyboardInterrupt, or code that blocks signals?)")
    if symptom == "signal":
        sig = (exit_status or 0) - 128
        what = {_signal.SIGXCPU: f"it used up its CPU time limit ({cpu_seconds} s)",
                _signal.SIGKILL: "it was killed (SIGKILL: a hard resource limit, or out of memory)",
                _signal.SIGSEGV: "it crashed (segmentation fault)"}.get(sig, f"it was killed by {_signal_name(sig)}")
        found = culprit(this, ("processes", "builtins", "exit"))
        return f"the kernel died in {here}: {what}" + (f"; the cell {found[1].words}" if found else "")
    if symptom == "exit":
        found = culprit(this, ("exit",))
        how = f"the cell {found[1].words}" if found else "the submission called exit(), sys.exit() or os._exit()?"
        return f"the kernel exited with status {exit_status} in {here} ({how})"
    found = culprit(this, ("processes",)) or culprit(cells, ("processes", "builtins"))
    if found and found[1].kind == "processes":
        return (f"{found[0]} {found[1].words}: they wrote into the kernel's connection to the grader, whose "
                f"messages became unreadable, so the grader lost the kernel ({detail})")
    if found:
        return (f"{found[0]} {found[1].words}, which the Jupyter kernel itself relies on: its messages became "
                f"unreadable and the grader lost the kernel ({detail})")
    return f"the grader lost contact with the kernel in {here}: {detail}"


def _signal_name(number: int) -> str:
    import signal as _signal
    try:
        return _signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
