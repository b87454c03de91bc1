"""Grading records: what a learner's function returns on the grading cases, judged outside the kernel.

The instructor notebook's hidden test cells call :func:`record_outputs`. It runs the learner's
function on every grading case (the visible seeds and the hidden ones) and publishes what came
back as plain data (a display output of type :data:`RECORD_MIME`): numbers and tensor bytes,
never objects. The grader (``autograder.grading.verdict``), in its own process, decodes that data
and compares it with the reference it runs itself. Nothing in the learner's kernel decides a
grade, so an object whose ``__eq__`` always says True, a patched ``torch.testing`` /
``numpy.testing`` / assert helper, or redefined builtins cannot turn a wrong answer into points:
at best they change what is recorded, and the recorded numbers still have to be right.

While a function is recorded, every graded function it may call (each one the notebook defines
above it) is bound to its reference (``substitute``), so one mistake costs the points of one
exercise only. :func:`outcome` turns a recorded outcome back into the judge's ``Outcome``.
"""
from __future__ import annotations

import base64
import builtins
import math
from contextlib import contextmanager

import torch

from coursekit.checks.cases import GRADING_SEEDS, case_inputs, materialise
from coursekit.checks.judge import Outcome

RECORD_MIME = "application/vnd.coursekit.grading-record+json"
MAX_ELEMENTS = 1_000_000  # per recorded tensor; larger outputs are recorded as too large

# Bound when the module is imported, so later patches of builtins or torch do not change them.
_type, _len, _str, _repr, _isinstance = builtins.type, builtins.len, builtins.str, builtins.repr, builtins.isinstance
_Tensor, _bool, _int, _float, _tuple, _list = torch.Tensor, bool, int, float, tuple, list
_DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
    torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)}


def encode_value(value, depth: int = 0) -> dict:
    """A JSON-safe description of an output: exact types only, so subclasses are not trusted."""
    t = _type(value)
    if t is _Tensor:
        name = _str(value.dtype).removeprefix("torch.")
        if name not in _DTYPES:
            return {"t": "other", "type": f"tensor of dtype {name}"}
        if value.numel() > MAX_ELEMENTS:
            return {"t": "other", "type": f"tensor of {value.numel()} elements (too large to record)"}
        flat = value.detach().cpu().contiguous().reshape(-1)
        return {"t": "tensor", "dtype": name, "shape": [_int(n) for n in value.shape],
                "b64": base64.b64encode(flat.view(torch.uint8).numpy().tobytes()).decode("ascii")}
    if t is _bool:
        return {"t": "bool", "v": value}
    if t is _int:
        return {"t": "int", "v": _str(value)} if abs(value) > 2**53 else {"t": "int", "v": value}
    if t is _float:
        return {"t": "float", "v": value if math.isfinite(value) else _repr(value)}
    if t is _str:
        return {"t": "str", "v": value[:10_000]}
    if value is None:
        return {"t": "none"}
    if t in (_tuple, _list) and depth < 8 and _len(value) <= 1000:
        return {"t": "tuple" if t is _tuple else "list", "items": [encode_value(v, depth + 1) for v in value]}
    return {"t": "other", "type": getattr(t, "__name__", "?")[:100]}


class Unrecorded:
    """What an output the grader does not accept decodes to (``description`` says what it was)."""

    def __init__(self, description: str):
        self._description = description

    @property
    def description(self) -> str:
        return self._description

    def __repr__(self):
        return self.description


def decode_value(data, depth: int = 0):
    """The inverse of :func:`encode_value`, for the grader: builds only tensors, numbers, strings,
    tuples and lists (anything else becomes :class:`Unrecorded`, which no expected value equals)."""
    if not _isinstance(data, dict) or depth > 8:
        return Unrecorded("an unreadable value")
    kind = data.get("t")
    if kind == "tensor":
        dtype = _DTYPES.get(data.get("dtype"))
        shape = data.get("shape")
        if dtype is None or not _isinstance(shape, list) or not all(_type(n) is int and n >= 0 for n in shape):
            return Unrecorded("a malformed tensor")
        numel = math.prod(shape)
        raw = base64.b64decode(data.get("b64", ""), validate=True)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if numel > MAX_ELEMENTS or _len(raw) != numel * itemsize:
            return Unrecorded("a malformed tensor")
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        return flat.view(dtype).reshape(shape).clone()
    if kind == "bool" and _type(data.get("v")) is bool:
        return data["v"]
    if kind == "int":
        v = data.get("v")
        return _int(v) if _type(v) in (int, str) else Unrecorded("a malformed int")
    if kind == "float":
        v = data.get("v")
        return _float(v) if _type(v) in (int, float, str) else Unrecorded("a malformed float")
    if kind == "str" and _type(data.get("v")) is str:
        return data["v"]
    if kind == "none":
        return None
    if kind in ("tuple", "list") and _isinstance(data.get("items"), list):
        items = [decode_value(v, depth + 1) for v in data["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "other":
        return Unrecorded(f"an object of type {_str(data.get('type'))[:100]}")
    return Unrecorded("an unreadable value")


def _publish(record: dict) -> None:
    try:
        from IPython.display import publish_display_data
    except ImportError:  # not in a kernel: nothing to record into
        return
    publish_display_data({RECORD_MIME: record, "text/plain": f"[grading record for {record['name']}]"})


def _message(exc) -> str:
    try:
        return _str(exc)[:500]
    except BaseException:
        return "(message unavailable)"


def record_outputs(assignment: str, name: str, namespace: dict, substitute: dict | None = None,
                   seeds=GRADING_SEEDS) -> None:
    """Run the learner's ``name`` (looked up in ``namespace``) on every grading case and publish
    the outcomes for the grader. Never raises for the learner's errors (they are outcomes);
    an interrupt (the time limit) is recorded and re-raised."""
    fn = namespace.get(name)
    record = {"assignment": assignment, "name": name, "outcomes": []}
    outcomes = record["outcomes"]
    if fn is None:
        outcomes += [{"seed": s, "kind": "missing"} for s in seeds]
        _publish(record)
        return
    try:
        with substituted(namespace, substitute or {}):
            for seed in seeds:
                try:
                    inputs = case_inputs(assignment, name, seed)
                    harness = getattr(inputs, "harness", None)
                    with torch.no_grad():
                        kwargs = materialise(inputs)
                        value = harness(fn, **kwargs) if harness is not None else fn(**kwargs)
                    outcomes.append({"seed": seed, "kind": "ok", "value": encode_value(value)})
                except KeyboardInterrupt:
                    outcomes.append({"seed": seed, "kind": "interrupted"})
                    raise
                except BaseException as exc:  # SystemExit included: the learner's error is data here
                    outcomes.append({"seed": seed, "kind": "raises", "type": _type(exc).__name__,
                                     "message": _message(exc)})
    finally:
        _publish(record)


@contextmanager
def substituted(namespace: dict, replacements: dict):
    """Temporarily bind ``replacements`` in ``namespace`` (the notebook's globals)."""
    missing = object()
    saved = {k: namespace.get(k, missing) for k in replacements}
    namespace.update(replacements)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                namespace.pop(k, None)
            else:
                namespace[k] = v


def outcome(recorded) -> Outcome:
    """The judge's Outcome for one recorded outcome (anything malformed is an unrecorded result)."""
    if not _isinstance(recorded, dict):
        return Outcome("unrecorded")
    kind = recorded.get("kind")
    if kind in ("missing", "interrupted"):
        return Outcome(kind)
    if kind == "raises":
        return Outcome("raises", error=_str(recorded.get("type", "Exception"))[:100],
                       message=_str(recorded.get("message", ""))[:300])
    if kind == "ok":
        return Outcome("ok", decode_value(recorded.get("value")))
    return Outcome("unrecorded")
