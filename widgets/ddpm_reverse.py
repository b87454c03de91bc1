"""Reverse sampling player: particles travelling from noise to data, DDPM vs DDIM."""
from __future__ import annotations

from typing import Callable

import ipywidgets as W
import numpy as np
import torch

from ._bank import FrameBank
from ._figure import Figure
from ._panel import Panel
from ._plumbing import (check_argument, check_returned, dropdown, fn_label, int_slider,
                        require_function_dict, to_numpy)


def reverse_sampling_player(samplers: dict[str, Callable], data: torch.Tensor | None = None, *,
                            num_steps: int = 20, max_steps: int = 100, interval_ms: int = 80) -> Panel:
    """Play a sampler's trajectory frame by frame, from pure noise (frame 0) to samples (frame S).

    samplers: name -> ``fn(num_steps) -> trajectory (S+1, N, 2) float32``. A sampler may ignore
        num_steps (DDPM always takes T steps); the frame range follows the trajectory it returns,
        and the step slider is disabled while such a sampler is selected.
    data: optional (M, 2) float32 points drawn faintly as the target.
    Trajectories are cached per (sampler, steps): moving the frame only re-indexes a cached array,
    and each trajectory is shipped to the page once, so moving the frame needs no kernel round trip.
    Returns a Panel with controls "sampler", "steps", "frame" and "play" (a Play button
    linked to "frame" in the browser).
    """
    samplers = require_function_dict(samplers, "samplers")
    if data is not None:
        check_argument("data", data, (None, 2))
    if not 1 <= num_steps <= max_steps:
        raise ValueError(f"num_steps: expected 1..{max_steps}, got {num_steps}")

    controls = {
        "sampler": dropdown("sampler", samplers),
        "steps": int_slider("steps (DDIM)", num_steps, 1, max_steps),
        "frame": int_slider("frame", 0, 0, num_steps),
        "play": W.Play(value=0, min=0, max=num_steps, interval=interval_ms, description="play"),
    }
    W.jslink((controls["play"], "value"), (controls["frame"], "value"))  # browser-side: no kernel trip

    cache: dict[tuple[str, int | None], tuple[np.ndarray, np.ndarray]] = {}
    fixed: set[str] = set()  # samplers seen to ignore num_steps; cached under (name, None)

    bank: FrameBank | None = None  # the page's copy of the cache, made once the figure exists

    def ship(key: tuple[str, int | None]) -> None:
        name, steps = key
        xs, ys = cache[key]
        S = xs.shape[0] - 1
        match = {"sampler": name} if steps is None else {"sampler": name, "steps": steps}
        bank.add(match, [len(fig.data) - 1], [xs], [ys], [f"{name}, {S} steps, frame {k} / {S}" for k in range(S + 1)])

    def trajectory(name: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """x and y coordinates, each (S+1, N) float32, computed once per (sampler, steps)."""
        key = (name, None if name in fixed else steps)
        if key not in cache:
            traj = check_returned(fn_label(samplers[name], f"sampler {name!r}"),
                                  samplers[name](steps), (None, None, 2))           # (S+1, N, 2)
            xy = to_numpy(traj, np.float32)
            if xy.shape[0] != steps + 1:
                fixed.add(name)
                key = (name, None)
            cache[key] = (np.ascontiguousarray(xy[..., 0]), np.ascontiguousarray(xy[..., 1]))
            if bank is not None:
                ship(key)
        return cache[key]

    # Fix the view once, from the first trajectory and the data, so the axes never jump.
    xs, ys = trajectory(controls["sampler"].value, num_steps)
    extent = [np.abs(xs).max(), np.abs(ys).max()]
    if data is not None:
        extent.append(float(data.abs().max()))
    r = 1.05 * float(max(extent))

    fig = Figure()
    if data is not None:
        d = to_numpy(data)
        fig.add_scattergl(x=d[:, 0], y=d[:, 1], mode="markers", name="data",
                        marker=dict(size=4, color="lightgray"))
    fig.add_scattergl(x=xs[0], y=ys[0], mode="markers", name="samples",
                    marker=dict(size=4, color="crimson", opacity=0.7))
    particles = fig.data[-1]
    fig.update_layout(height=480, width=520, margin=dict(t=60, l=40, r=20, b=40),
                      xaxis=dict(range=[-r, r]), yaxis=dict(range=[-r, r], scaleanchor="x", scaleratio=1))

    shown = {"S": num_steps}  # the frame count on screen, to keep the frame's relative position

    def update() -> bool:
        name, steps = controls["sampler"].value, controls["steps"].value
        xs, ys = trajectory(name, steps)  # a new trajectory is shipped to the page before anything else
        S = xs.shape[0] - 1
        frame, play = controls["frame"], controls["play"]
        if S != shown["S"]:  # new length: same fraction of the way from noise to data
            k = round(frame.value / max(shown["S"], 1) * S)
            frame.max = play.max = S
            frame.value = play.value = k
            shown["S"] = S
        controls["steps"].disabled = name in fixed
        k = frame.value
        with fig.batch_update():
            particles.x, particles.y = xs[k], ys[k]
            fig.layout.title.text = f"{name}, {S} steps, frame {k} / {S}"
        # The page draws every frame from its copy of the trajectory, once both the trajectory and the
        # control values have arrived. A kernel-sent frame could land after the page has moved on
        # (a stale frame), so the kernel sends none.
        return bank is not None

    watch = ["sampler", "steps", "frame"]
    bank = FrameBank(fig, controls, watch, index="frame")
    for key in cache:
        ship(key)
    return Panel(fig, controls, update, rows=[["sampler", "steps"], ["play", "frame"]], watch=watch,
                 kind="reverse_sampling", browser=bank)
