"""Check harnesses for graded ``nn.Module`` classes (see ``coursekit.checks.cases.Harnessed``).

A graded class cannot be compared by calling it: calling it builds a module. A harness does the
rest, deterministically: build the learner's class under a fixed seed, run it as initialised
(where zero-initialisation shows), then load seeded values into every parameter and run it again
(where the forward pass shows). Parameter names follow the layout each docstring describes; a
module with a different layout gets a message listing what is missing or unexpected.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class ParameterLayoutError(ValueError):
    """A module's parameters do not have the names and shapes its docstring asks for."""


def build(cls, seed: int, **kwargs) -> nn.Module:
    """``cls(**kwargs)`` with torch's global generator seeded, without disturbing the caller's RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = cls(**kwargs)
    if not isinstance(module, nn.Module):
        raise TypeError(f"{getattr(cls, '__name__', cls)}(...) should build an nn.Module, got {type(module).__name__}")
    return module


def check_layout(module: nn.Module, layout: dict[str, tuple]) -> None:
    """Raise ParameterLayoutError unless ``module``'s parameters are exactly ``layout`` (name -> shape)."""
    found = {name: tuple(p.shape) for name, p in module.named_parameters()}
    missing = [f"{n} {s}" for n, s in layout.items() if n not in found]
    unexpected = [f"{n} {s}" for n, s in found.items() if n not in layout]
    reshaped = [f"{n}: expected {layout[n]}, got {s}" for n, s in found.items() if n in layout and layout[n] != s]
    if missing or unexpected or reshaped:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + \
                ([f"unexpected {', '.join(unexpected)}"] if unexpected else []) + \
                ([f"wrong shape {'; '.join(reshaped)}"] if reshaped else [])
        raise ParameterLayoutError(f"{type(module).__name__}: parameters differ from the layout in the docstring: "
                                   + "; ".join(parts))


def load_seeded(module: nn.Module, layout: dict[str, tuple], seed: int) -> nn.Module:
    """Fill every parameter with seeded values (after checking the layout); returns ``module``.

    Matrices get N(0, 1 / fan_in) entries, vectors N(0, 0.3^2), so activations stay O(1) and every
    part of the forward pass (shifts, scales, gates) is non-trivial.
    """
    check_layout(module, layout)
    g = torch.Generator().manual_seed(50_000 + seed)
    with torch.no_grad():
        for name in sorted(layout):
            p = module.get_parameter(name)
            values = torch.randn(p.shape, generator=g)
            p.copy_(values / p.shape[-1] ** 0.5 if p.ndim >= 2 else 0.3 * values)
    return module


def linear(prefix: str, fan_in: int, fan_out: int, bias: bool = True) -> dict[str, tuple]:
    """Layout entries of an ``nn.Linear(fan_in, fan_out)`` registered as ``prefix``."""
    out = {f"{prefix}.weight": (fan_out, fan_in)}
    if bias:
        out[f"{prefix}.bias"] = (fan_out,)
    return out


# Bound at import, before any learner code runs: a submission that replaces builtins.all must not
# change what its own gradient check reports (tests/adversarial: redefined_builtins).
_all = all


def _differentiated(wrt: tuple, inputs: dict):
    """(input name, attribute or None, tensor) of every leaf a gradient check differentiates, in a
    fixed order: a tensor input itself, a model's tensor attributes sorted by name (its parameters)."""
    for name in wrt:
        if isinstance(inputs[name], torch.Tensor):
            yield name, None, inputs[name]
            continue
        for attr, value in sorted(vars(inputs[name]).items()):
            if isinstance(value, torch.Tensor):
                yield name, attr, value


def gradient_labels(inputs) -> list[str] | None:
    """What each gradient of a :func:`value_and_gradients` check is taken with respect to, in the
    order of its third item (None for the inputs of any other check). The judge and the diagnosis
    name the parts of such a check with these, not with output indices."""
    if getattr(inputs, "harness", None) is not value_and_gradients:
        return None
    return [name if attr is None else f"{name}'s parameter {attr}"
            for name, attr, _ in _differentiated(inputs["wrt"], inputs)]


def value_and_gradients(fn, wrt: tuple, **inputs) -> tuple:
    """The check of a function that exists to be differentiated: (value, which inputs gradients reach, gradients).

    ``wrt`` names the inputs to differentiate: a tensor input directly, a model (a toy with tensor
    attributes) through those attributes, its parameters. The gradients are those of the output's sum.
    A function that computes the right number through a detached path (``.detach()``, ``.item()``,
    ``torch.no_grad()``) fails on the second item, which names the inputs no gradient reaches, and
    on zero gradients.
    """
    leaves = {}
    with torch.enable_grad():
        for name in wrt:
            if not isinstance(inputs[name], torch.Tensor):
                inputs[name] = copy.copy(inputs[name])
        for name, attr, value in list(_differentiated(wrt, inputs)):
            leaf = value.clone().requires_grad_(True)
            if attr is None:
                inputs[name] = leaf
            else:
                setattr(inputs[name], attr, leaf)
            leaves[leaf] = name
        out = fn(**inputs)
        grads = [None] * len(leaves)
        if isinstance(out, torch.Tensor) and out.requires_grad:
            grads = torch.autograd.grad(out.sum(), list(leaves), allow_unused=True)
    unreached = [n for n in wrt if _all(g is None for g, m in zip(grads, leaves.values()) if m == n)]
    reach = (f"detached: no gradient reaches {', '.join(unreached)}" if unreached
             else f"gradients reach {', '.join(wrt)}")
    grads = tuple(torch.zeros_like(p) if g is None else g for p, g in zip(leaves, grads))
    return (out.detach() if isinstance(out, torch.Tensor) else out), reach, grads
