"""``Panel(bank=...)``: the frames shipped to the page are what ``update()`` draws for each state.

The page draws a banked slider's frames without the kernel (``widgets/_bank.py``, ``widgets/js/frames.js``), so a bank
must hold, frame for frame, what the learner's functions produce, and must not exist at all when
frames differ in more than a bank can carry or cost more than its budget. The browser suite
checks the page side (page and kernel agree after every key); these tests check the frames.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from widgets import Panel
from widgets._plumbing import float_slider, int_slider


def make_panel(*, moves_axis: bool = False, fails_at: int | None = None) -> tuple[Panel, dict]:
    """a in 0..10 (banked), b in 0.5..2.0; traces: a line that scales with a*b, a static line, bars."""
    calls = {"update": 0}
    controls = {"a": int_slider("a", 3, 0, 10), "b": float_slider("b", 1.0, 0.5, 2.0, 0.5, ".1f")}
    fig = go.FigureWidget()
    fig.add_scatter(x=np.arange(5.0), y=np.zeros(5), name="scaled")
    fig.add_scatter(x=np.array([0.0, np.nan, 1.0]), y=np.ones(3), name="static, with a NaN gap")
    fig.add_bar(x=["a", "b"], y=[0.0, 0.0], name="bars")

    def update() -> None:
        calls["update"] += 1
        a, b = controls["a"].value, controls["b"].value
        if a == fails_at:
            raise ValueError("the learner's function fails here")
        with fig.batch_update():
            fig.data[0].x = np.arange(5.0) + a
            fig.data[0].y = np.arange(5.0) * a * b
            fig.data[2].y = np.array([a, b], dtype=np.float64)
            fig.layout.title.text = f"a = {a}, b = {b:.1f}"
            if moves_axis:
                fig.layout.yaxis.range = [0, a + 1]

    return Panel(fig, controls, update, bank="a"), calls


def frames_of(bank, i: int, axis: str) -> np.ndarray:
    """(frames, n) float32: trace bank.traces[i]'s axis in every row of the bank."""
    return np.stack(bank.rows(i, axis))


def test_the_bank_holds_what_update_draws_for_every_position():
    panel, _ = make_panel()
    (bank,) = panel.browser.banks
    assert bank.match == {"b": 1.0}
    assert bank.traces == [0, 1, 2]
    # The unchanging line travels once: the page redraws it when it comes back to this bank from
    # a state the kernel drew (b is another control; a trace could depend on it).
    assert bank.fixed == [False, True, False]
    assert bank.frame_numbers == list(range(11))  # outside a kernel, the whole bank in one piece
    assert len(bank.cols[1]["y"]["offsets"]) == 2 * 4  # one row: it travels once
    np.testing.assert_array_equal(frames_of(bank, 1, "x")[0], [0.0, np.nan, 1.0])
    np.testing.assert_array_equal(frames_of(bank, 1, "y")[0], [1.0, 1.0, 1.0])
    assert bank.cols[2]["x"] == {"text": [["a", "b"]]}  # bar categories travel as text, once
    assert bank.cols[0]["z"] is None
    assert panel.browser.index == "a" and (panel.browser.index_min, panel.browser.index_step) == (0.0, 1.0)
    for a in range(11):
        np.testing.assert_array_equal(frames_of(bank, 0, "x")[a], np.arange(5.0) + a)
        np.testing.assert_array_equal(frames_of(bank, 0, "y")[a], np.arange(5.0) * a)
        np.testing.assert_array_equal(frames_of(bank, 2, "y")[a], [a, 1.0])
        assert bank.titles[a] == f"a = {a}, b = 1.0"
    assert np.frombuffer(bank.valid, np.uint8).tolist() == [1] * 11


def test_computing_a_bank_leaves_the_controls_and_the_figure_as_they_were():
    panel, _ = make_panel()
    seen = []
    panel.controls["a"].observe(lambda change: seen.append(change["new"]), names="value")
    panel.controls["b"].value = 2.0  # a new bank for b = 2.0 is computed (at once, outside a kernel)
    assert len(panel.browser.banks) == 2 and panel.browser.banks[1].match == {"b": 2.0}
    assert seen == [] and panel.controls["a"].value == 3
    np.testing.assert_array_equal(panel.figure.data[0].y, np.arange(5.0) * 3 * 2.0)
    assert panel.figure.layout.title.text == "a = 3, b = 2.0"
    assert panel.figure.layout.meta == {"state": {"a": 3, "b": 2.0}}


def test_a_banked_move_is_drawn_by_the_page_and_still_updates_the_python_figure():
    panel, calls = make_panel()
    panel.browser.driving = True  # the page draws banked states
    before = calls["update"]
    panel.controls["a"].value = 7
    assert panel._banked_now()
    assert calls["update"] == before  # the frame the learner's function computed for the bank is reused
    np.testing.assert_array_equal(panel.figure.data[0].y, np.arange(5.0) * 7)
    np.testing.assert_array_equal(panel.figure.data[2].y, [7.0, 1.0])
    assert panel.figure.layout.title.text == "a = 7, b = 1.0"
    assert panel.figure.layout.meta == {"state": {"a": 7, "b": 1.0}}
    panel.controls["b"].value = 1.5
    assert len(panel.browser.banks) == 2  # every b the learner visits gets its own bank


def test_frames_that_change_the_layout_are_not_banked():
    panel, _ = make_panel(moves_axis=True)
    assert panel.browser.banks == [] and not panel._banked_now()
    panel.controls["a"].value = 5  # the kernel draws it
    assert tuple(panel.figure.layout.yaxis.range) == (0, 6)


def test_a_bank_over_budget_leaves_every_move_to_the_kernel(monkeypatch):
    monkeypatch.setattr(Panel, "FRAME_BUDGET_S", 0.0)
    panel, calls = make_panel()
    assert panel.browser.banks == [] and panel._bank_name is None
    before = calls["update"]
    panel.controls["b"].value = 2.0
    assert calls["update"] == before + 1  # no new attempt: one draw, no frames
    np.testing.assert_array_equal(panel.figure.data[0].y, np.arange(5.0) * 3 * 2.0)


def test_a_position_where_the_learners_function_fails_stays_with_the_kernel():
    panel, _ = make_panel(fails_at=8)
    (bank,) = panel.browser.banks
    valid = np.frombuffer(bank.valid, np.uint8).tolist()
    assert valid == [1] * 8 + [0] + [1] * 2
    with pytest.raises(ValueError, match="fails here"):
        panel.controls["a"].value = 8  # the kernel draws it, so the learner sees the error


def test_with_the_slider_alone_only_the_changing_traces_travel():
    controls = {"t": float_slider("t", 0.5, 0.0, 1.0, 0.25, ".2f")}
    fig = go.FigureWidget()
    fig.add_scatter(x=np.arange(3.0), y=np.zeros(3), name="moves")
    fig.add_scatter(x=np.arange(4.0), y=np.ones(4), name="never moves")

    def update() -> None:
        t = controls["t"].value
        with fig.batch_update():
            fig.data[0].y = np.arange(3.0) * t
            fig.layout.title.text = f"t = {t:.2f}"

    panel = Panel(fig, controls, update, bank="t")
    (bank,) = panel.browser.banks
    assert bank.match == {} and bank.traces == [0] and bank.fixed == [False]
    assert (panel.browser.index_min, panel.browser.index_step) == (0.0, 0.25)
    np.testing.assert_array_equal(frames_of(bank, 0, "y"), [np.arange(3.0) * t for t in (0, 0.25, 0.5, 0.75, 1)])
    panel.controls["t"].value = 0.75
    assert panel._banked_now() and panel.figure.layout.title.text == "t = 0.75"


def test_outside_a_kernel_a_running_event_loop_does_not_postpone_the_bank():
    """Only a kernel defers the bank to its loop. Elsewhere a loop may be marked running in this
    thread (Playwright's sync API leaves one during the browser tests) and never run a callback."""
    import asyncio
    import threading

    async def build() -> Panel:
        return make_panel()[0]

    built: list[Panel] = []  # in a thread of its own: this one may have a loop marked running already
    worker = threading.Thread(target=lambda: built.append(asyncio.run(build())))
    worker.start()
    worker.join()
    assert len(built[0].browser.banks) == 1


def test_heat_maps_whose_size_and_labels_change_travel_in_the_bank():
    """An attention mask: z is (L, L) with L following the slider, the axes' labels too."""
    controls = {"n": int_slider("n", 2, 1, 4)}
    fig = go.FigureWidget()
    fig.add_heatmap(z=np.zeros((1, 1)), x=["t0"], y=["t0"])

    def update() -> None:
        n = controls["n"].value
        labels = [f"t{i}" for i in range(n)]
        with fig.batch_update():
            fig.data[0].z = np.tril(np.ones((n, n)))
            fig.data[0].x, fig.data[0].y = labels, labels
            fig.layout.title.text = f"n = {n}"

    panel = Panel(fig, controls, update, bank="n")
    (bank,) = panel.browser.banks
    assert bank.traces == [0] and bank.frame_numbers == [0, 1, 2, 3]
    for r, n in enumerate(range(1, 5)):
        np.testing.assert_array_equal(bank.rows(0, "z")[r], np.tril(np.ones((n, n))))
        assert bank.rows(0, "x")[r] == bank.rows(0, "y")[r] == [f"t{i}" for i in range(n)]


def test_3d_traces_travel_with_x_y_and_z():
    controls = {"k": int_slider("k", 0, 0, 3)}
    fig = go.FigureWidget()
    fig.add_scatter3d(x=np.zeros(4), y=np.zeros(4), z=np.zeros(4), mode="lines")

    def update() -> None:
        k = controls["k"].value
        with fig.batch_update():
            s = np.linspace(0, 1, 4) * (k + 1)
            fig.data[0].x, fig.data[0].y, fig.data[0].z = s, -s, s ** 2
            fig.layout.title.text = f"k = {k}"

    panel = Panel(fig, controls, update, bank="k")
    (bank,) = panel.browser.banks
    for k in range(4):
        s = np.linspace(0, 1, 4) * (k + 1)
        for axis, want in (("x", s), ("y", -s), ("z", s ** 2)):
            np.testing.assert_allclose(bank.rows(0, axis)[k], want, rtol=1e-6)


def test_the_capstone_style_add_carries_z_rows():
    """FrameBank.add with zs: every frame at once, as a widget that computes its own frames does."""
    from widgets._bank import FrameBank

    controls = {"step": int_slider("step", 0, 0, 2)}
    fig = go.FigureWidget()
    fig.add_scatter3d(x=np.zeros(2), y=np.zeros(2), z=np.zeros(2))
    bank = FrameBank(fig, controls, ["step"], index="step")
    xs = np.arange(6.0).reshape(3, 2)
    bank.add({}, [0], [xs], [xs + 1], ["a", "b", "c"], zs=[xs + 2])
    (b,) = bank.banks
    np.testing.assert_array_equal(np.stack(b.rows(0, "z")), xs + 2)
    assert b.titles == ["a", "b", "c"] and b.fixed == [False]


def test_lengths_that_change_along_the_slider_travel_in_the_bank():
    controls = {"t": int_slider("t", 0, 0, 4)}
    fig = go.FigureWidget()
    fig.add_scatter(x=np.arange(1.0), y=np.zeros(1), mode="markers")

    def update() -> None:
        t = controls["t"].value
        with fig.batch_update():
            fig.data[0].x, fig.data[0].y = np.arange(t + 1.0), np.full(t + 1, float(t))
            fig.layout.title.text = f"t = {t}"

    panel = Panel(fig, controls, update, bank="t")
    (bank,) = panel.browser.banks
    assert [len(r) for r in bank.rows(0, "y")] == [1, 2, 3, 4, 5]
    np.testing.assert_array_equal(bank.rows(0, "x")[3], np.arange(4.0))


def test_in_a_kernel_the_bank_fills_nearest_first_in_pieces_and_a_move_of_another_control_drops_it(monkeypatch):
    """A frame at a time on the kernel's loop: the positions nearest the slider ship first, and
    a move of another control stops the old fill (no more frames for the old state)."""
    import asyncio

    import widgets._bank as bank_module

    monkeypatch.setattr(Panel, "BANK_DELAY_S", 0.0)
    monkeypatch.setattr(Panel, "SLICE_S", 0.0)          # one frame per step
    monkeypatch.setattr(Panel, "SHIP_FIRST_S", 0.0)     # and each shipped at once
    monkeypatch.setattr(Panel, "SHIP_EVERY_MAX_S", 0.0)
    shipped_keys: list = []

    async def run():
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(bank_module, "_kernel_loop", lambda: loop)
        panel, _ = make_panel()
        assert panel.browser.banks == []                # waits for the page's companion
        panel.browser.driving = True
        for _ in range(5):
            await asyncio.sleep(0)                      # one loop turn: one frame
        first = panel.browser.banks[0]
        assert 3 in first.frame_numbers                 # the slider's own position first
        got = sorted(k for b in panel.browser.banks for k in b.frame_numbers)
        assert 0 < len(got) < 11 and set(got) <= set(range(11))
        assert all(abs(k - 3) <= abs(j - 3) + 1 for k in got for j in set(range(11)) - set(got))
        panel.controls["b"].value = 2.0                 # another control: drop the fill for b = 1.0
        before = [k for b in panel.browser.banks if b.match == {"b": 1.0} for k in b.frame_numbers]
        for _ in range(200):
            await asyncio.sleep(0.001)
            if panel._bank_fill is None:
                break
        after = [k for b in panel.browser.banks if b.match == {"b": 1.0} for k in b.frame_numbers]
        assert after == before
        new = sorted(k for b in panel.browser.banks if b.match == {"b": 2.0} for k in b.frame_numbers)
        assert new == list(range(11))                   # the new state's bank, complete
        shipped_keys.append(len(panel.browser.banks))

    asyncio.run(run())
    assert shipped_keys and shipped_keys[0] > 2         # in pieces
