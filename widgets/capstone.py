"""The capstone's views (10): noise particles forming into paths in 3-D, and a path replayed on an arm.

Both are Panels whose figure is a plotly 3-D scene. The learner's sampler computes every state in
Python once; a frame bank (``widgets/_bank.py``, :class:`FrameBank`) ships the states to the page as
float32 buffers (x, y and z), and the page draws the state the step slider asks for. A Play button linked to the slider in the
page (``jslink``) therefore animates with no kernel round trip per frame; the kernel still gets
every value and updates its copy of the figure silently, so page and kernel agree. The camera
stays where the learner put it: the scene's ``uirevision`` never changes.

Cost per frame: the scene redraws every one of its WebGL objects on every frame, twice (once more
for hover picking), and plotly's own update rebuilds every 3-D trace's buffers. A line trace is the
expensive part (plotly builds each segment as triangles): in Chromium's software WebGL a frame with
the paths drawn as lines cost about 3x one with markers only. So the denoising states are drawn as
particles (one markers trace, one marker per waypoint), and the paths' lines appear once, on the
last step; what stays still is merged into as few traces as it takes (one line trace, one marker
trace); and the page (``js/frames.js``) hands a frame's new coordinates to the moved traces' WebGL
objects alone, not through plotly's update.
"""
from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch

from ._bank import FrameBank
from ._figure import Figure
from ._panel import Panel
from ._plumbing import check_argument, check_returned, dropdown, fn_label, int_slider, require_callable, to_numpy

PLAY_INTERVAL_MS = 33  # 30 frames per second


def _bank_frames(bank: FrameBank, match: dict, traces: Sequence[int], frames: Sequence[np.ndarray],
                 titles: Sequence[str]) -> None:
    """Ship ``frames[i]``, (F, n_i, 3) positions of trace ``traces[i]`` in each of the F frames, as one bank."""
    arrays = [np.asarray(f, dtype=np.float32) for f in frames]
    for a in arrays:
        if a.ndim != 3 or a.shape[0] != len(titles) or a.shape[2] != 3:
            raise ValueError(f"frames: expected ({len(titles)}, n, 3) arrays, got {a.shape}")
    bank.add(match, traces, [a[..., 0] for a in arrays], [a[..., 1] for a in arrays], titles,
             zs=[a[..., 2] for a in arrays])


def _polylines3d(paths: np.ndarray) -> np.ndarray:
    """(..., N, H, 3) paths -> (..., N * (H + 1), 3) points of one line trace, paths separated by NaN."""
    pad = np.full((*paths.shape[:-2], 1, 3), np.nan, dtype=paths.dtype)
    joined = np.concatenate([paths, pad], axis=-2)
    return joined.reshape(*paths.shape[:-3], -1, 3)


def _extent(points: Sequence[np.ndarray], margin: float = 0.1) -> np.ndarray:
    """(2, 3) low and high corners of a box around all ``points`` ((n, 3) arrays), ``margin`` of its size wider."""
    allp = np.concatenate([np.asarray(p, np.float64).reshape(-1, 3) for p in points])
    allp = allp[np.isfinite(allp).all(1)]
    lo, hi = allp.min(0), allp.max(0)
    pad = margin * np.maximum(hi - lo, 1e-6)
    return np.stack([lo - pad, hi + pad])


def _scene(extent: np.ndarray) -> dict:
    """A fixed box with hidden axes, drawn to scale (``aspectmode="data"``: the obstacle stays a sphere).

    Fixed ranges keep the camera and the box still while frames change; points outside the box
    (the first denoising steps' noise) are clipped by the scene. Hidden axes: every frame redraws
    the whole WebGL scene, and axes with their ticks and labels cost more than the paths (measured
    in Chromium's software WebGL, where 3-D frames are slowest)."""
    lo, hi = extent
    axis = lambda i: dict(range=[float(lo[i]), float(hi[i])], autorange=False, visible=False)
    return dict(xaxis=axis(0), yaxis=axis(1), zaxis=axis(2), aspectmode="data",
                camera=dict(eye=dict(x=1.6, y=-1.4, z=0.9)), uirevision="capstone")


def _play(n: int) -> W.Play:
    return W.Play(value=0, min=0, max=n, interval=PLAY_INTERVAL_MS, description="play")


def _obstacle_points(obstacle) -> np.ndarray:
    """The obstacle, a sphere (centre (3,), radius), as three great circles (n, 3), NaN between them:
    lines are cheap to redraw at every frame, a transparent mesh is not."""
    centre, radius = to_numpy(obstacle[0]), float(obstacle[1])
    a = np.linspace(0, 2 * np.pi, 41)
    c, s_, o = np.cos(a), np.sin(a), np.zeros_like(a)
    rings = [np.stack(r, axis=1) for r in ((c, s_, o), (c, o, s_), (o, c, s_))]
    return np.concatenate([np.concatenate([centre + radius * r, np.full((1, 3), np.nan)]) for r in rings])


def formation_player(sample_states: Callable[[str], torch.Tensor], goal_names: Sequence[str],
                     data: torch.Tensor | None = None, goals: torch.Tensor | None = None,
                     start: torch.Tensor | None = None, obstacle=None) -> Panel:
    """Watch sampled paths form: every denoising state of every sample, from noise (step 0) to paths.

    sample_states: ``fn(goal_name) -> states (S + 1, N, H, 3)`` float32 in world coordinates, the
        sampler's every state (the learner's sampler, detokenised and unnormalised), for the goal
        named; called once per goal (cached).
    goal_names: the dropdown's options. data: optional (M, H, 3) demonstrations, drawn faintly.
    goals (K, 3), start (3,): drawn as markers; obstacle: optional (centre (3,), radius) of a sphere.
    Each step draws the samples' waypoints as particles; the last step also joins them into paths.
    Returns a Panel with controls "goal", "step" and "play" (a Play button linked to "step" in
    the page: it animates in the page at about 30 frames per second).
    """
    require_callable(sample_states, "sample_states")
    names = [str(n) for n in goal_names]
    if not names:
        raise ValueError("goal_names: expected at least one goal name")
    if data is not None:
        check_argument("data", data, (None, None, 3))
    cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    companion: FrameBank | None = None  # made once the figure exists; then every new goal's states are shipped

    def frames(name: str) -> tuple[np.ndarray, np.ndarray]:
        """(particles (S + 1, N H, 3): every waypoint of every sample at each step,
        paths (S + 1, N (H + 1), 3): the sampled paths as lines, NaN except at the last step)."""
        if name not in cache:
            got = check_returned(fn_label(sample_states, "sample_states"), sample_states(name), (None, None, None, 3))
            s = to_numpy(got, np.float32)                                            # (S + 1, N, H, 3)
            lines = np.full((len(s), s.shape[1] * (s.shape[2] + 1), 3), np.nan, np.float32)
            lines[-1] = _polylines3d(s[-1])
            cache[name] = (s.reshape(len(s), -1, 3), lines)
            if companion is not None:
                ship(name)
        return cache[name]

    first, first_paths = frames(names[0])
    S = first.shape[0] - 1
    controls = {"goal": dropdown("goal", names), "step": int_slider("step", 0, 0, S), "play": _play(S)}
    W.jslink((controls["play"], "value"), (controls["step"], "value"))

    fig = Figure()
    # The box holds where the paths end up (the demonstrations, goals, start, obstacle and the first goal's
    # samples at the last step), not the noise of step 0, which would make the final paths small.
    pts = [first[-1]]
    # The scene redraws every WebGL object on every frame, so what stays still is drawn with as few as
    # it takes: one line trace (demonstrations and obstacle, coloured point by point) and one marker
    # trace (goals, named, and start). Not scene annotations: plotly redraws those (SVG) on every frame.
    still = []   # (points (n, 3) with NaN breaks, colour)
    if data is not None:
        d = to_numpy(data, np.float32)
        pts.append(d.reshape(-1, 3))
        still.append((_polylines3d(d[: min(len(d), 12)]), "silver"))   # a few: every line costs WebGL time
    if obstacle is not None:
        still.append((_obstacle_points(obstacle), "dimgray"))
        pts.append(to_numpy(obstacle[0]).reshape(1, 3) + float(obstacle[1]) * np.array([[-1.0], [1.0]]))
    if still:
        line = np.concatenate([p for p, _ in still])
        fig.add_scatter3d(x=line[:, 0], y=line[:, 1], z=line[:, 2], mode="lines", hoverinfo="skip",
                          name=" and ".join(n for n, on in (("demonstrations", data is not None),
                                                              ("obstacle", obstacle is not None)) if on),
                          line=dict(color=[c for p, c in still for _ in range(len(p))], width=2))
    marks, colours, symbols, labels = [], [], [], []
    if goals is not None:
        g = to_numpy(goals).reshape(-1, 3)
        pts.append(g)
        marks.append(g)
        colours += ["seagreen"] * len(g)
        symbols += ["diamond"] * len(g)
        labels += names[: len(g)] + [""] * (len(g) - len(names))
    if start is not None:
        s = to_numpy(start).reshape(1, 3)
        pts.append(s)
        marks.append(s)
        colours.append("black")
        symbols.append("circle")
        labels.append("")
    if marks:
        m = np.concatenate(marks)
        fig.add_scatter3d(x=m[:, 0], y=m[:, 1], z=m[:, 2], mode="markers+text" if goals is not None else "markers",
                          text=labels, name="goals and start", textfont=dict(color="seagreen"),
                          marker=dict(size=6, color=colours, symbol=symbols))
    p0, x0 = first_paths[0], first[0]
    fig.add_scatter3d(x=p0[:, 0], y=p0[:, 1], z=p0[:, 2], mode="lines", name="sampled paths (last step)",
                      line=dict(color="crimson", width=2), hoverinfo="skip")
    fig.add_scatter3d(x=x0[:, 0], y=x0[:, 1], z=x0[:, 2], mode="markers", name="samples",
                      marker=dict(size=2.5, color="crimson"))
    paths = len(fig.data) - 2
    particles = len(fig.data) - 1
    fig.update_layout(height=520, width=640, margin=dict(t=50, l=0, r=0, b=0),
                      scene=_scene(_extent(pts)), uirevision="capstone", legend=dict(x=0, y=1))

    def title(name: str, k: int, S: int) -> str:
        return f"goal = {name}, step = {k} / {S}" + ("  (noise)" if k == 0 else "  (samples)" if k == S else "")

    def ship(name: str) -> None:
        xs, lines = frames(name)
        _bank_frames(companion, {"goal": name}, [paths, particles], [lines, xs],
                     [title(name, k, len(xs) - 1) for k in range(len(xs))])

    def update() -> bool:
        name = controls["goal"].value
        xs, lines = frames(name)
        S = len(xs) - 1
        k = min(controls["step"].value, S)
        for i, f in ((paths, lines), (particles, xs)):
            trace = fig.data[i]
            trace.x, trace.y, trace.z = f[k, :, 0], f[k, :, 1], f[k, :, 2]
        fig.layout.title.text = title(name, k, S)
        return companion is not None and companion.has({"goal": name})

    watch = ["goal", "step"]
    companion = FrameBank(fig, controls, watch, index="step", index_min=float(controls["step"].min))
    for name in cache:
        ship(name)
    return Panel(fig, controls, update, rows=[["goal"], ["play", "step"]], watch=watch, kind="capstone_formation",
                 browser=companion)


def arm_player(path: torch.Tensor, inverse_kinematics: Callable, forward_kinematics: Callable,
               substeps: int = 4, obstacle=None, goal: torch.Tensor | None = None) -> Panel:
    """Replay one path (H, 3) on a 3-link arm: its hand follows the path, waypoint by waypoint.

    The path is refined by linear interpolation (``substeps`` frames between waypoints);
    ``inverse_kinematics(points (n, 3)) -> q (n, 3)`` gives the joint angles and
    ``forward_kinematics(q (n, 3)) -> joints (n, 4, 3)`` the arm's joints to draw (base, shoulder,
    elbow, hand). Returns a Panel with controls "frame" and "play" (linked in the page).
    """
    path = check_argument("path", path, (None, 3))
    require_callable(inverse_kinematics, "inverse_kinematics")
    require_callable(forward_kinematics, "forward_kinematics")
    H = len(path)
    s = torch.linspace(0, H - 1, (H - 1) * substeps + 1)
    i0 = s.floor().long().clamp(max=H - 2)
    frac = (s - i0)[:, None]
    points = (1 - frac) * path[i0] + frac * path[i0 + 1]                                   # (F, 3)
    q = check_returned(fn_label(inverse_kinematics, "inverse_kinematics"), inverse_kinematics(points), (len(points), 3))
    joints = to_numpy(check_returned(fn_label(forward_kinematics, "forward_kinematics"), forward_kinematics(q),
                                     (len(points), 4, 3)), np.float32)                      # (F, 4, 3)
    reach = float(np.abs(joints[:, -1] - to_numpy(points, np.float32)).max())
    F = len(points) - 1
    controls = {"frame": int_slider("frame", 0, 0, F), "play": _play(F)}
    W.jslink((controls["play"], "value"), (controls["frame"], "value"))

    fig = Figure()
    p = to_numpy(path, np.float32)
    # What stays still in as few WebGL objects as it takes (the scene redraws each on every frame): one
    # line trace (the path and the obstacle, coloured point by point), one marker trace (waypoints, goal).
    line, colours = p, ["crimson"] * len(p)
    if obstacle is not None:
        ring = _obstacle_points(obstacle)
        line, colours = np.concatenate([p, np.full((1, 3), np.nan), ring]), colours + ["dimgray"] * (len(ring) + 1)
    fig.add_scatter3d(x=line[:, 0], y=line[:, 1], z=line[:, 2], mode="lines", hoverinfo="skip",
                      name="sampled path" + (" and obstacle" if obstacle is not None else ""),
                      line=dict(color=colours, width=2))
    # One marker size for all: sizes point by point made a frame about 3x slower (software WebGL).
    marks, mc, sym = p, ["crimson"] * len(p), ["circle"] * len(p)
    if goal is not None:
        marks = np.concatenate([p, to_numpy(goal).reshape(1, 3)])
        mc, sym = mc + ["seagreen"], sym + ["diamond"]
    fig.add_scatter3d(x=marks[:, 0], y=marks[:, 1], z=marks[:, 2], mode="markers",
                      name="waypoints" + (" and goal" if goal is not None else ""),
                      marker=dict(size=4, color=mc, symbol=sym))
    fig.add_scatter3d(x=joints[0, :, 0], y=joints[0, :, 1], z=joints[0, :, 2], mode="lines+markers", name="arm",
                      marker=dict(size=5, color="royalblue"), line=dict(color="royalblue", width=8))
    arm = len(fig.data) - 1
    fig.update_layout(height=480, width=600, margin=dict(t=50, l=0, r=0, b=0), uirevision="capstone",
                      scene=_scene(_extent([joints, p], margin=0.05)))

    def title(k: int) -> str:
        return f"frame = {k} / {F}, waypoint {k / substeps:.2f} of {H - 1} (hand within {1000 * reach:.1f} mm of the path)"

    def update() -> bool:
        k = controls["frame"].value
        trace = fig.data[arm]
        trace.x, trace.y, trace.z = joints[k, :, 0], joints[k, :, 1], joints[k, :, 2]
        fig.layout.title.text = title(k)
        return True

    companion = FrameBank(fig, controls, ["frame"], index="frame", index_min=float(controls["frame"].min))
    _bank_frames(companion, {}, [arm], [joints], [title(k) for k in range(F + 1)])
    return Panel(fig, controls, update, rows=[["play", "frame"]], watch=["frame"], kind="capstone_arm",
                 browser=companion)
