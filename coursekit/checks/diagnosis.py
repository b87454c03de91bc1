"""What is wrong with an output that no named mistake explains: a general diagnosis.

The judge (``coursekit.checks.judge``) asks this module only after the output has failed and no
registered mistake matched it. Each test below compares the learner's output with the expected
one, or with the reference's output on a slightly changed input (a *variant*), and the first test
that fits gives the message, in the learner's terms (argument names, axes, time steps):

- the right numbers in the wrong dtype, device or shape (transposed, broadcast, not reduced);
- NaN or Inf, and where they first appear;
- a flipped sign, or a constant factor (named: 2, 1/2, the batch size, the data dimension...);
- the reference's output with two arguments swapped, an axis transposed, or a time or index
  argument moved by one (an off-by-one);
- agreement everywhere except some entries (say which: only where t = 0, one column, the last step);
- which input's contribution is wrong: with that input zeroed the two functions agree;
- for samplers, the right distribution from random numbers drawn in another order;
- for a function checked with its gradients (``coursekit.checks.harness.value_and_gradients``):
  which gradient differs, named by the input or parameter it is taken with respect to, and a
  path detached from that input (:func:`parts` names the value and each gradient, not indices).

Variants are the reference's outputs on perturbed inputs (:func:`perturbations`). The build stores
them for the visible cases in the check data, so the learner's kernel needs no reference; the
grader computes them from the reference for any case. Re-running the learner's function (needed
for the zeroed inputs and the sampler test) happens only in the learner's kernel, and only after
a check has failed, so a passing check costs nothing extra.

On hidden cases (``hidden=True``) no message states a number derived from the expected output.
"""
from __future__ import annotations

import itertools
import math
import re
from typing import Callable

import torch

ATOL, RTOL = 1e-5, 1e-4
DRAWS = 16  # generator seeds tried by the sampler test
MAX_SWAPS = 6


# ------------------------------------------------------------------------------ perturbed inputs
class ZeroedModel:
    """Stands in for a model or field argument: same calls, every output entry zero."""

    def __init__(self, model):
        self._model = model

    def __call__(self, *args, **kwargs):
        return torch.zeros_like(self._model(*args, **kwargs))

    def __getattr__(self, name):
        return getattr(self._model, name)


def _is_model(value) -> bool:
    return callable(value) and not isinstance(value, (type, torch.Tensor)) and not hasattr(value, "seed")


def _is_integer(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8) and value.numel() > 0
    return type(value) is int


def perturbations(inputs: dict, expected) -> dict[str, dict]:
    """key -> changed inputs, for the variants the diagnosis compares against.

    ``shift:<name>:+1`` / ``-1``  an integer argument (time step, index, count) moved by one;
    ``swap:<a>:<b>``              two arguments of the same kind exchanged;
    ``zero:<name>``               a data-shaped tensor (or a model's output) set to zero;
    ``draw:<k>``                  the generator seeded differently (samplers only).
    """
    from coursekit.checks.cases import Seeded, replaced
    out = {}
    shape = tuple(expected.shape) if isinstance(expected, torch.Tensor) else None
    for name, value in inputs.items():
        if _is_integer(value):
            for step in (1, -1):
                out[f"shift:{name}:{step:+d}"] = replaced(inputs, **{name: value + step})
        elif isinstance(value, torch.Tensor) and value.is_floating_point() and shape and tuple(value.shape) == shape:
            out[f"zero:{name}"] = replaced(inputs, **{name: torch.zeros_like(value)})
        elif _is_model(value):
            out[f"zero:{name}"] = replaced(inputs, **{name: ZeroedModel(value)})
        elif isinstance(value, Seeded):
            for k in range(DRAWS):
                out[f"draw:{k}"] = replaced(inputs, **{name: Seeded(90_000 + 97 * value.seed + k)})
    swaps = 0
    for (a, va), (b, vb) in itertools.combinations(inputs.items(), 2):
        same = (isinstance(va, torch.Tensor) and isinstance(vb, torch.Tensor) and va.shape == vb.shape
                and va.dtype == vb.dtype and not torch.equal(va, vb)) or \
               (type(va) is float and type(vb) is float and va != vb)
        if same and swaps < MAX_SWAPS:
            out[f"swap:{a}:{b}"] = replaced(inputs, **{a: vb, b: va})
            swaps += 1
    return out


def variants(reference, inputs: dict, expected) -> dict:
    """The reference's outputs on :func:`perturbations` (those on which it does not raise)."""
    from coursekit.checks.cases import call
    found = {}
    for key, changed in perturbations(inputs, expected).items():
        try:
            found[key] = call(reference, changed)
        except Exception:  # e.g. a time step moved out of range: no such variant
            pass
    return found


# ------------------------------------------------------------------------------------ comparing
def close(got, want) -> bool:
    """Strict agreement (same types, dtypes, shapes; values within tolerance), never raising."""
    from coursekit.checks.judge import describe_mismatch
    try:
        return describe_mismatch(got, want) is None
    except Exception:
        return False


def parts(inputs, name: str) -> dict[tuple, str]:
    """Names of the parts of an output, by their index path, where indices would mean nothing to a
    learner: a gradient check's value and its gradients with respect to each named input or
    parameter (see ``coursekit.checks.harness.gradient_labels``). Empty for any other check."""
    from coursekit.checks.harness import gradient_labels
    labels = gradient_labels(inputs)
    if labels is None:
        return {}
    named = {(0,): f"the value of your {name}", (1,): f"the inputs the gradients of your {name} reach"}
    named.update({(2, i): f"the gradient of your {name} with respect to {label}" for i, label in enumerate(labels)})
    return named


def _first_difference(got, want, where: str = "your output", path: tuple = (), named: dict | None = None):
    """(where, got leaf, want leaf, path) of the first part that differs, descending into tuples."""
    if isinstance(want, (tuple, list)) and isinstance(got, (tuple, list)) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want)):
            if not close(g, w):
                return _first_difference(g, w, (named or {}).get(path + (i,), f"{where}[{i}]"), path + (i,), named)
    return where, got, want, path


def _leaf(value, path):
    for i in path:
        if not isinstance(value, (tuple, list)) or i >= len(value):
            return None
        value = value[i]
    return value


def _tensor(x):
    if isinstance(x, torch.Tensor):
        return x
    if type(x) in (int, float):
        return torch.tensor(float(x), dtype=torch.float64)
    return None


def _allclose(g: torch.Tensor, w: torch.Tensor) -> bool:
    return g.shape == w.shape and bool(torch.allclose(g.double(), w.double(), atol=ATOL, rtol=RTOL))


# --------------------------------------------------------------------------------- the diagnosis
def diagnose(got, case, variant: Callable[[str], object], rerun: Callable[[dict], object] | None = None,
             doc: str | None = None, name: str = "function") -> str | None:
    """A sentence on what is wrong with ``got`` (which failed ``case``), or None if nothing fits.

    ``case`` has ``inputs``, ``expected`` and ``hidden``; ``variant(key)`` is the reference's
    output on ``perturbations(case.inputs, case.expected)[key]`` (or None); ``rerun(inputs)`` is
    the learner's output on other inputs (None when it raises; not given outside the kernel);
    ``doc`` is the function's docstring (it says in which order a sampler draws); ``name`` the
    graded function's name.
    """
    named = parts(case.inputs, name)
    where, g, w, path = _first_difference(got, case.expected, named=named)
    if named and path and path[0] in (1, 2):
        return _gradient(g, w, path, case.inputs, name)
    terms = _Terms(case.inputs, w)
    if isinstance(w, torch.Tensor):
        if not isinstance(g, torch.Tensor):
            return _not_a_tensor(g, w)
        for test in (_dtype, _device, _shape, _non_finite):
            message = test(g, w, where, terms)
            if message:
                return message
        if not w.is_floating_point():  # integer and boolean outputs are compared exactly
            return _integers(g, w, where, terms)
    gt, wt = _tensor(g), _tensor(w)
    if gt is None or wt is None or gt.shape != wt.shape:
        return None
    gt, wt = gt.double(), wt.double()
    return (_sign_or_factor(gt, wt, where, terms, case.hidden)
            or _variant_match(got, case, variant, path, where)
            or _transposed(gt, wt, where)
            or _shifted(gt, wt, where)
            or _partial(gt, wt, where, terms)
            or _contribution(case, variant, rerun)
            or _sampler(case, variant, rerun, doc))


class _Terms:
    """How to name things in the learner's terms: the arguments, their sizes, a per-sample time."""

    def __init__(self, inputs: dict, want):
        self.inputs = inputs
        self.sizes: list[tuple[int, str]] = []
        batch = want.shape[0] if isinstance(want, torch.Tensor) and want.ndim else None
        for name, v in inputs.items():
            if isinstance(v, torch.Tensor) and v.ndim:
                for axis, n in enumerate(v.shape):
                    if n > 1:
                        label = (f"the batch size B = {n}" if axis == 0 and n == batch and v.ndim > 1 else
                                 f"the size of the last axis of {name} ({n})" if axis == v.ndim - 1 else
                                 f"the size of axis {axis} of {name} ({n})")
                        self.sizes.append((n, label))
            elif type(v) is int and v > 1:
                self.sizes.append((v, f"{name} = {v}"))
        self.time = next(((n, v) for n, v in inputs.items() if isinstance(v, torch.Tensor) and v.ndim == 1
                          and batch is not None and v.shape[0] == batch and n.lower() in ("t", "tau", "time", "step", "k")),
                         None)

    def position(self, index: tuple) -> str:
        text = "[" + ", ".join(str(i) for i in index) + "]"
        if self.time is not None and index:
            name, t = self.time
            value = t[index[0]].item()
            text += f" (sample {index[0]}, where {name} = {value:g})"
        return text


DETACHED = ("somewhere on the way the computation left the autograd graph: a .detach(), .data, .item(), "
            ".numpy() or torch.no_grad(), or a new tensor built from numbers")


def _gradient(g, w, path, inputs, name) -> str | None:
    """A gradient check whose value is right: which input no gradient reaches, or which gradient differs."""
    if path == (1,):
        if not (isinstance(g, str) and g.startswith("detached")):
            return None
        cut = [n for n in inputs["wrt"] if re.search(rf"\b{re.escape(n)}\b", g.split(":", 1)[1])]
        if not cut:
            return None
        them = ", ".join(cut)
        return (f"your {name} is detached from {them}: no gradient flows from its value back to "
                f"{'it' if len(cut) == 1 else 'them'}, so training could not move {them}; {DETACHED}")
    from coursekit.checks.harness import gradient_labels
    label = gradient_labels(inputs)[path[1]]
    if not (isinstance(g, torch.Tensor) and isinstance(w, torch.Tensor) and g.shape == w.shape):
        return None
    if not bool(g.abs().max() > 0) and bool(w.abs().max() > 0):
        return (f"the value of your {name} is right, but its gradient with respect to {label} is zero: no gradient "
                f"flows back to {label}; {DETACHED}")
    return (f"the value of your {name} is right, but its gradient with respect to {label} differs: part of the "
            f"way from {label} to the value does not carry its gradient (one term or factor detached, e.g. the "
            "standard deviation or the target), or the value is reached by another formula with the same number")


def _not_a_tensor(g, w) -> str | None:
    try:
        as_tensor = torch.tensor(g, dtype=w.dtype)
    except Exception:
        return None
    if as_tensor.shape == w.shape and _allclose(as_tensor, w):
        return (f"the numbers are right but come back as a {type(g).__name__}: return a torch.Tensor "
                "(keep the computation in torch instead of converting with .tolist() or .item())")
    return None


def _dtype(g, w, where, terms) -> str | None:
    if g.dtype == w.dtype:
        return None
    same_values = g.shape == w.shape and (g.is_floating_point() or w.dtype == torch.bool or not w.is_floating_point()) \
        and _allclose(g.to(w.dtype).double() if w.dtype != torch.bool else g.to(torch.bool).double(), w.double())
    if w.dtype == torch.bool:
        return (f"{where} should be a boolean mask (torch.bool), not {g.dtype}: build it from comparisons "
                "(e.g. i >= j) or convert with .bool()" + (" — the entries themselves are right" if same_values else ""))
    if not w.is_floating_point():
        return (f"{where} should hold integers ({w.dtype}), not {g.dtype}: indices and counts come from "
                "torch.randint, .long() or integer arithmetic")
    if g.is_floating_point():
        cause = ("a float64 value (a numpy array, or torch.tensor of Python floats with dtype=torch.float64) "
                 "entered the computation" if g.dtype == torch.float64 else
                 f"something converted the result to {g.dtype}")
        return (f"{where} has dtype {g.dtype}, the inputs and the expected output {w.dtype}: {cause}. "
                f"Keep the inputs' dtype (create new tensors with dtype=x.dtype) rather than casting at the end"
                + (" — apart from the dtype your numbers are right." if same_values else "."))
    return (f"{where} holds {g.dtype} values where {w.dtype} is expected: an integer or boolean tensor "
            "was returned; compute in floating point (e.g. t.float() / T)")


def _device(g, w, where, terms) -> str | None:
    if g.device == w.device:
        return None
    return (f"{where} is on {g.device}, the inputs on {w.device}: create new tensors on the inputs' device "
            "(torch.zeros(..., device=x.device) or torch.zeros_like(x))")


def _shape(g, w, where, terms) -> str | None:
    if g.shape == w.shape:
        return None
    gs, ws = tuple(g.shape), tuple(w.shape)
    both_float = g.is_floating_point() and w.is_floating_point()
    if g.ndim == w.ndim and sorted(gs) == sorted(ws) and both_float and g.ndim <= 5:
        for perm in itertools.permutations(range(g.ndim)):
            if tuple(gs[i] for i in perm) == ws and _allclose(g.permute(perm).double(), w.double()):
                moved = [i for i in range(g.ndim) if perm[i] != i]
                return (f"{where} has the right numbers with axes {', '.join(map(str, moved))} exchanged "
                        f"(shape {gs}, expected {ws}): a transpose or permute too many or too few, or the "
                        "axes stacked in another order")
    if g.numel() == w.numel():
        same = both_float and _allclose(g.reshape(ws).double(), w.double())
        return (f"{where} has shape {gs}, expected {ws}" + (
            ": the numbers are right, only the shape differs (a reshape, squeeze or unsqueeze is missing or extra)"
            if same else ": same number of entries but in another arrangement (check which axis is which)"))
    try:
        broadcast = torch.broadcast_shapes(gs, ws) == gs
    except RuntimeError:
        broadcast = False
    if g.ndim > w.ndim or (broadcast and g.numel() > w.numel()):
        if both_float:
            for axes in _reducible_axes(gs, ws):
                for how in ("mean", "sum"):
                    r = getattr(g.double(), how)(dim=axes) if axes else g.double()
                    if r.shape == w.shape and _allclose(r, w.double()):
                        over = "all entries" if len(axes) == g.ndim else f"axis {', '.join(map(str, axes))}"
                        return (f"{where} has shape {gs}, expected {ws}: taking the {how} over {over} of your "
                                f"output gives the expected values, so the final {how} is missing")
        if broadcast:
            return (f"{where} has shape {gs}, expected {ws}: two tensors whose shapes do not line up were "
                    "broadcast together. A per-sample quantity of shape (B,) lines up with the LAST axis of "
                    "(B, ..., D) data; reshape it to (B, 1, ..., 1) first (e.g. a.reshape(-1, *[1] * (x.ndim - 1)))")
    if g.ndim < w.ndim:
        return (f"{where} has shape {gs}, expected {ws}: an axis was reduced (a sum or mean, or an index) "
                "that the result should keep")
    return None


def _reducible_axes(gs, ws):
    """Axis sets whose reduction turns shape gs into ws (leading extra axes, or all)."""
    if not ws:
        yield tuple(range(len(gs)))
        return
    extra = len(gs) - len(ws)
    if extra > 0 and gs[extra:] == ws:
        yield tuple(range(extra))
    if extra > 0 and gs[:len(ws)] == ws:
        yield tuple(range(len(ws), len(gs)))


def _non_finite(g, w, where, terms) -> str | None:
    if not g.is_floating_point():
        return None
    bad = ~torch.isfinite(g) & (torch.isfinite(w) if w.is_floating_point() else torch.ones_like(g, dtype=torch.bool))
    if not bad.any():
        return None
    index = tuple(int(i) for i in bad.nonzero()[0])
    kind = "NaN" if torch.isnan(g[index]) else "Inf"
    count = int(bad.sum())
    return (f"{where} contains {count} non-finite entr{'y' if count == 1 else 'ies'} where the expected values "
            f"are finite; the first {kind} is at index {terms.position(index)}. Look for a division by zero, "
            "or a log or square root of zero or a negative number, at that position")


def _integers(g, w, where, terms) -> str | None:
    wrong = g != w
    if not wrong.any() or wrong.all():
        return None
    return _where_wrong(wrong, where, terms)


def _sign_or_factor(g, w, where, terms, hidden) -> str | None:
    ww = float((w * w).sum())
    if ww == 0:
        return None
    if _allclose(g, -w):
        return f"{where} has the right size but the opposite sign everywhere: a sign is flipped"
    c = float((g * w).sum()) / ww
    if abs(c - 1) < 1e-3 or abs(c) < 1e-6 or not _allclose(g, c * w):
        return None
    name = _name_factor(c, terms)
    if hidden:
        return (f"{where} is a constant multiple of the expected output" +
                (f" (the factor involves {name[1]})" if name and name[1] else "") +
                ": a constant factor is missing or extra")
    if name:
        text, size = name
        hint = {2: "a missing 1/2, or a sum of two equal terms", 0.5: "an extra 1/2",
                -1: "a flipped sign"}.get(round(c, 6), "")
        if size:
            hint = (f"{size}: a sum where a mean belongs?" if c > 1 else f"{size}: a mean where a sum belongs?")
        return f"{where} is exactly {text} times the expected output everywhere" + (f" ({hint})" if hint else "")
    return f"{where} is {c:.4g} times the expected output everywhere: a constant factor is missing or extra"


def _name_factor(c: float, terms) -> tuple[str, str] | None:
    """(the factor in words, the size it equals or '') if ``c`` is a simple or a size-related number."""
    sign = "-" if c < 0 else ""
    a = abs(c)
    for n, label in terms.sizes:
        for value, text in ((n, f"{n}"), (1 / n, f"1/{n}"), (math.sqrt(n), f"√{n}"), (1 / math.sqrt(n), f"1/√{n}")):
            if abs(a - value) <= 1e-4 * value and n > 2:
                return sign + text, label
    simple = [(2, "2"), (0.5, "1/2"), (4, "4"), (0.25, "1/4"), (3, "3"), (1 / 3, "1/3"), (math.sqrt(2), "√2"),
              (1 / math.sqrt(2), "1/√2"), (math.pi, "π"), (1 / math.pi, "1/π"), (2 * math.pi, "2π"), (1, "1")]
    for value, text in simple:
        if abs(a - value) <= 1e-4 * value:
            size = next((label for n, label in terms.sizes if n == 2 and value in (2, 0.5)), "")
            return sign + text, size
    return None


TIME_NAMES = ("t", "t_prev", "step", "k", "i", "index")


def _describe_variant(key: str) -> str:
    kind, *rest = key.split(":")
    if kind == "shift":
        name, step = rest
        other = f"{name} {'+' if step == '+1' else '-'} 1"
        why = (f"an off-by-one in {name} (it is 0-based here; count where the first step is)" if name in TIME_NAMES
               else f"one too {'many' if step == '+1' else 'few'} (check how {name} is counted: a range's end, a loop's bounds)")
        return f"your output is what the correct function gives for {other} instead of {name}: {why}"
    if kind == "swap":
        a, b = rest
        return f"your output is what the correct function gives with {a} and {b} exchanged: are they used the other way round?"
    return key


def _variant_match(got, case, variant, path, where) -> str | None:
    keys = [k for k in perturbations(case.inputs, case.expected) if k.startswith(("shift:", "swap:"))]
    for key in keys:
        v = variant(key)
        if v is None:
            continue
        if close(got, v) or (path and close(_leaf(got, path), _leaf(v, path))):
            return _describe_variant(key)
    return None


def _transposed(g, w, where) -> str | None:
    for a, b in itertools.combinations(range(g.ndim), 2):
        if g.shape[a] == g.shape[b] and g.shape[a] > 1 and _allclose(g, w.transpose(a, b)):
            return f"{where} is the expected output with axes {a} and {b} transposed"
    return None


def _shifted(g, w, where) -> str | None:
    """The expected values moved along an axis: shifted by one position, or rotated (rolled)."""
    for axis in range(g.ndim):
        n = g.shape[axis]
        if n < 3:
            continue
        for step in (1, -1):
            if _allclose(g.narrow(axis, max(step, 0), n - 1), w.narrow(axis, max(-step, 0), n - 1)):
                later = "one position later" if step == 1 else "one position earlier"
                return (f"{where} holds the expected values {later} along axis {axis}: an off-by-one in an index "
                        "(check where the sequence starts and which entry is the first)")
        for k in range(1, n):
            if _allclose(g, torch.roll(w, k, axis)):
                halves = " (its two halves are in the other order: check the order of a concatenation)" \
                    if 2 * k == n else ""
                return f"{where} is the expected output rotated by {k} positions along axis {axis}{halves}"
    return None


def _partial(g, w, where, terms) -> str | None:
    wrong = ~torch.isclose(g, w, atol=ATOL, rtol=RTOL)
    if not wrong.any() or wrong.all() or g.ndim == 0:
        return None
    return _where_wrong(wrong, where, terms)


def _where_wrong(wrong: torch.Tensor, where: str, terms) -> str | None:
    n_wrong, n = int(wrong.sum()), wrong.numel()
    if terms.time is not None and wrong.ndim >= 1:
        name, t = terms.time
        rows = wrong.reshape(wrong.shape[0], -1).any(dim=1)
        bad_t = sorted({float(x) for x in t[rows].tolist()})
        good_t = {float(x) for x in t[~rows].tolist()}
        if rows.any() and (~rows).any() and not good_t & set(bad_t):
            values = ", ".join(f"{x:g}" for x in bad_t[:4])
            first = "; this is the first step, where the formula often has a special case" if bad_t == [min(t.tolist())] == [0] else ""
            return (f"{where} is right for every sample except those where {name} = {values} "
                    f"({int(rows.sum())} of {rows.numel()} samples){first}")
    for axis in reversed(range(wrong.ndim)):
        size = wrong.shape[axis]
        if size < 2:
            continue
        per_index = wrong.transpose(0, axis).reshape(size, -1).any(dim=1)
        if per_index.all():
            continue
        bad = per_index.nonzero().flatten().tolist()
        axis_name = "the last axis" if axis == wrong.ndim - 1 else ("the first axis (samples)" if axis == 0 else f"axis {axis}")
        if bad == [size - 1]:
            which = f"the last entry along {axis_name} (index {size - 1} of {size}: the last step or column?)"
        elif bad == [0]:
            which = f"the first entry along {axis_name} (index 0 of {size}: the first step or column?)"
        else:
            which = f"indices {', '.join(map(str, bad[:6]))} along {axis_name} (of {size})"
        return f"{where} is right except at {which}: {n_wrong} of {n} entries differ"
    return f"{where} agrees with the expected output in {n - n_wrong} of {n} entries; the others differ"


def _contribution(case, variant, rerun) -> str | None:
    if rerun is None:
        return None
    changed = perturbations(case.inputs, case.expected)
    zeroable = [k for k in changed if k.startswith("zero:")]
    if len(zeroable) < 2:  # with one term only, zeroing it tells nothing about its share
        return None
    for key in zeroable:
        want = variant(key)
        if want is None or close(want, case.expected):
            continue  # zeroing this input changes nothing: it tells nothing
        wt = _tensor(want)
        if wt is not None and wt.is_floating_point() and float(wt.abs().max()) < 1e-6:
            continue  # both zero: agreement would be trivial
        got = rerun(changed[key])
        if got is not None and close(got, want):
            name = key.split(":", 1)[1]
            if isinstance(case.inputs[name], torch.Tensor):
                return (f"with {name} set to zero your output is right, so the part of the result that involves "
                        f"{name} is wrong (check the coefficient or expression that multiplies {name})")
            return (f"with {name}'s output replaced by zeros your output is right, so the way {name}'s prediction "
                    "enters the result is wrong (its coefficient, its inputs, or its sign)")
    return None


def _sampler(case, variant, rerun, doc) -> str | None:
    keys = [k for k in perturbations(case.inputs, case.expected) if k.startswith("draw:")]
    if rerun is None or not keys:
        return None
    ours, theirs = [], []
    for key in keys:
        got, want = rerun(perturbations(case.inputs, case.expected)[key]), variant(key)
        gt, wt = _tensor(got), _tensor(want)
        if gt is None or wt is None or gt.shape != wt.shape or not gt.is_floating_point():
            return None
        ours.append(gt.double().flatten())
        theirs.append(wt.double().flatten())
    a, b = torch.stack(ours), torch.stack(theirs)  # (draws, entries)
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        return None
    mean_gap = (a.mean(0) - b.mean(0)).abs()
    spread = ((a.var(0) + b.var(0)) / len(keys)).sqrt() + 1e-9
    ratio = (a.std(0).mean() + 1e-9) / (b.std(0).mean() + 1e-9)
    if float((mean_gap < 4 * spread).float().mean()) < 0.95 or not 0.75 < float(ratio) < 1.33:
        return None
    order = _draw_order(doc)
    return ("your samples look right in distribution (their mean and spread over "
            f"{len(keys)} generator seeds match the expected ones) but not draw for draw: the random numbers "
            "are drawn from the generator in a different order or number"
            + (f". The docstring asks for: {order}" if order else
               ". Draw exactly as the docstring says, all from the generator passed in"))


def _draw_order(doc: str | None) -> str:
    if not doc:
        return ""
    text = re.sub(r"\s+", " ", doc)
    sentences = re.split(r"(?<=[.;])\s+", text)
    found = [s for s in sentences if re.search(r"\b(order|draw|drawn|generator)\b", s, re.I)]
    return " ".join(found[:2])[:400]
