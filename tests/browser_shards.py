"""The browser phase of `make test` split into shards that run at the same time (``--browser-shard K/N``).

Each shard is its own pytest process with its own JupyterLab and Chromium (tests/browser/conftest.py);
`make test` runs two at once. Every shard collects the same tests and computes the same partition
(``partition``: no randomness, no clock), then keeps its own part, so every test runs in exactly one
shard. Parts are balanced by the measured seconds below, greedy longest first: each unit goes to the
shard with the least estimated work so far. A test missing from the table counts ``DEFAULT_S``; a
test that will be skipped counts nothing. The seconds only balance the shards: a wrong figure makes
one shard finish later, never a test fail.

A unit is one test, except the tests of a file in ``TOGETHER``: they share an expensive module
fixture, so they stay in one shard and pay for it once.
"""
from __future__ import annotations

import re

WIDGETS = "tests/browser/test_browser_widgets.py::test_widgets_in_jupyterlab[{}]"
VOILA = "tests/browser/test_browser_voila.py::test_explorer_as_voila_dashboard[{}]"
FEEDBACK = "tests/browser/test_browser_feedback.py"
TOGETHER = (FEEDBACK,)
DEFAULT_S = 25.0
# Seconds on the idle 2-core CI machine (issue 16, `--durations`), rounded. The other widget
# notebooks took 23-30 s, each Voila dashboard about 20 s.
SECONDS = {
    WIDGETS.format("autograder/source/02_ddpm/02_ddpm.ipynb"): 100,
    WIDGETS.format("course/explorers/ddpm_explorer.ipynb"): 92,
    WIDGETS.format("autograder/source/03_diffusion_policy/03_diffusion_policy.ipynb"): 75,
    WIDGETS.format("autograder/source/02b_theory_bridge/02b_theory_bridge.ipynb"): 74,
    WIDGETS.format("course/explorers/capstone_explorer.ipynb"): 70,
    WIDGETS.format("course/explorers/diffusion_policy_explorer.ipynb"): 68,
    WIDGETS.format("course/explorers/bridge_explorer.ipynb"): 61,
    WIDGETS.format("course/explorers/pi0_explorer.ipynb"): 60,
    WIDGETS.format("autograder/source/09_pi0/09_pi0.ipynb"): 56,
    WIDGETS.format("autograder/source/05_robotic_dits/05_robotic_dits.ipynb"): 55,
    WIDGETS.format("course/explorers/robotic_dits_explorer.ipynb"): 50,
    WIDGETS.format("autograder/source/10_capstone/10_capstone.ipynb"): 37,
    WIDGETS.format("autograder/source/07_flow_matching/07_flow_matching.ipynb"): 37,
    WIDGETS.format("course/explorers/index.ipynb"): 10,
    FEEDBACK: 75,   # 63 s to build and grade its course, then three pages
    "tests/browser/test_browser_hub.py::test_class_on_jupyterhub": 61,
    "tests/browser/test_browser_slow_start.py::test_widgets_render_when_the_start_up_window_is_missed": 60,
    **{VOILA.format(f"{name}_explorer.ipynb"): 20
       for name in ("bridge", "capstone", "ddpm", "diffusion_policy", "diffusion_transformer", "flow_matching",
                    "flows", "ot_paths", "pi0", "robotic_dits", "variational")},
}


def parse(value: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N), 1 <= K <= N, with a plain-words error otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value or "")
    if not m or not 1 <= int(m[1]) <= int(m[2]):
        raise ValueError(f"--browser-shard wants K/N with 1 <= K <= N (e.g. 1/2), not {value!r}")
    return int(m[1]), int(m[2])


def unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return path if path in TOGETHER else nodeid


def partition(nodeids: list[str], shards: int, free: frozenset[str] | set[str] = frozenset()) -> list[list[str]]:
    """Split ``nodeids`` into ``shards`` lists (each in the given order); ``free`` are ids that cost nothing."""
    units: dict[str, list[str]] = {}
    for nid in nodeids:
        units.setdefault(unit(nid), []).append(nid)
    cost = {key: 0.0 if all(n in free for n in ids) else float(SECONDS.get(key, DEFAULT_S))
            for key, ids in units.items()}
    load, home = [0.0] * shards, {}
    for key in sorted(units, key=lambda k: (-cost[k], k)):
        k = min(range(shards), key=lambda i: (load[i], i))
        load[k] += cost[key]
        home.update((nid, k) for nid in units[key])
    return [[nid for nid in nodeids if home[nid] == k] for k in range(shards)]
