"""``--browser-shard K/N`` (tests/browser_shards.py): every selected test runs in exactly one shard,
the same one in every process, and the two shards of `make test` get about the same work.

No browser: the partition of the browser phase's real test ids (one ``--collect-only`` run), and
what each shard's pytest process keeps of the notebook tests.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

import browser_shards as S
from autograder import REPO_ROOT

BROWSER_PHASE = ["tests/browser", "tests/test_notebooks.py"]


def collect(*args: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return [line for line in out.stdout.splitlines() if "::" in line]


@pytest.fixture(scope="module")
def phase() -> list[str]:
    return collect(*BROWSER_PHASE)


def test_each_test_is_in_exactly_one_shard_and_the_split_is_deterministic(phase):
    assert len(phase) > 20
    for n in (1, 2, 3):
        parts = S.partition(phase, n)
        assert sorted(sum(parts, [])) == sorted(phase), f"{n} shards lose or repeat tests"
        assert parts == S.partition(list(phase), n), "two processes would not agree on the shards"
        for part in parts:
            assert part == [t for t in phase if t in part], "a shard changed the collection order"
    assert S.partition(phase, 1) == [phase]


def test_two_shards_get_about_the_same_work(phase):
    cost = lambda part: sum(S.SECONDS.get(S.unit(t), S.DEFAULT_S) for t in {S.unit(t) for t in part})  # noqa: E731
    a, b = (cost(p) for p in S.partition(phase, 2))
    assert abs(a - b) <= max(S.SECONDS.values()), f"estimated {a:.0f} s against {b:.0f} s"
    feedback = [t for t in phase if t.startswith(S.FEEDBACK)]
    assert sum(any(t in part for t in feedback) for part in S.partition(phase, 2)) == 1, \
        "the feedback tests (one shared course) were split across shards"


def test_a_shard_process_keeps_its_own_part(phase):
    """The option as `make test` passes it, on the notebook tests alone (a quick collection)."""
    notebooks = [t for t in phase if t.startswith("tests/test_notebooks.py::")]
    assert collect("tests/test_notebooks.py", "--browser-shard", "2/2") == S.partition(notebooks, 2)[1]


@pytest.mark.parametrize("bad", ["0/2", "3/2", "2", "a/b", ""])
def test_a_bad_shard_is_refused_in_plain_words(bad):
    with pytest.raises(ValueError, match="K/N"):
        S.parse(bad)
