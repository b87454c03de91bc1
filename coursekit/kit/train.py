"""One small, seeded training loop shared by the assignments."""
from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm


def train(model: torch.nn.Module, loss_fn: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
          data: torch.Tensor, steps: int, batch_size: int = 256, lr: float = 2e-3, seed: int = 0,
          desc: str = "training") -> list[float]:
    """Adam on ``loss_fn(batch, generator)`` over random mini-batches of ``data``; returns the losses.

    ``loss_fn`` draws its own randomness (times, noise) from the generator it is given, so the run is
    reproducible. A tqdm bar shows progress and the running loss.
    """
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    losses = []
    bar = tqdm(range(steps), desc=desc, mininterval=0.5)
    for step in bar:
        batch = data[torch.randint(0, len(data), (batch_size,), generator=g)]
        loss = loss_fn(batch, g)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{desc}: the loss became {loss.item()} at step {step}; check the loss function")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 100 == 0:
            bar.set_postfix(loss=f"{sum(losses[-100:]) / len(losses[-100:]):.4f}")
    return losses
