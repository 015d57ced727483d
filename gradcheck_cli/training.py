"""A few steps of training with the model's own gradient: for the overfit
check of ``gradcheck sanity``; the generic point's burn-in (generic.py)
shares its Adam and its first step's rate.

Every call goes through the Evaluator, so reseeding, result validation and
the evaluation count are the same as for the check itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .evaluate import Evaluator
from .settings import (
    ADAM_BETAS,
    ADAM_DEFAULT_LR,
    ADAM_EPS,
    MOMENTUM,
    TARGET_UPDATE_RATIO,
    WARMUP_MAX_RELATIVE_STEP,
)

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class Training:
    """What a run of training did."""

    optimizer: str
    lr: float
    steps: int
    losses: tuple[float, ...]  # the loss before each step, and after the last
    update_ratios: dict[str, float]  # per block: median of norm(update) / norm(param) over the steps
    params: dict[str, np.ndarray]  # where training ended

    @property
    def loss_before(self) -> float:
        return self.losses[0]

    @property
    def loss_after(self) -> float:
        return self.losses[-1]


class Adam:
    """Bias-corrected Adam's moments, per block (Kingma and Ba's defaults)."""

    def __init__(self, params: dict[str, np.ndarray]):
        self.first = {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}
        self.second = {k: np.zeros_like(v, dtype=np.float64) for k, v in params.items()}
        self.t = 0

    def tick(self) -> None:
        """One step begins: the moments' bias correction counts it."""
        self.t += 1

    def update(self, name: str, g: np.ndarray, lr: float) -> np.ndarray:
        """The step of block ``name`` for gradient ``g`` at rate ``lr``."""
        beta1, beta2 = ADAM_BETAS
        self.first[name] = beta1 * self.first[name] + (1 - beta1) * g
        with np.errstate(over="ignore"):  # a gradient beyond 1e154: its second moment is inf, its step 0
            self.second[name] = beta2 * self.second[name] + (1 - beta2) * g**2
        m_hat = self.first[name] / (1 - beta1**self.t)
        v_hat = self.second[name] / (1 - beta2**self.t)
        return -lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)


def default_lr(params: dict[str, np.ndarray], gradient: dict[str, np.ndarray], optimizer: str) -> float:
    """SGD: a rate whose first update is TARGET_UPDATE_RATIO of the
    parameters (the notes' ~1e-3). Adam: ADAM_DEFAULT_LR, since its step is
    about lr per element whatever the gradient's scale."""
    if optimizer == "adam":
        return ADAM_DEFAULT_LR
    x = float(np.sqrt(sum(np.sum(v**2) for v in params.values())))
    g = float(np.sqrt(sum(np.sum(v**2) for v in gradient.values())))
    if g == 0:
        return 1e-3
    return TARGET_UPDATE_RATIO * max(x, 1e-3) / g


def first_step_rate(params: dict[str, np.ndarray], loss: float, gradient: dict[str, np.ndarray],
                    fall: float) -> float:
    """Adam's rate whose first step (lr against each element's gradient
    sign) lowers the loss by about ``fall`` of it, to first order; capped
    (WARMUP_MAX_RELATIVE_STEP) where a constant in the loss would make
    that step huge."""
    size = sum(v.size for v in params.values())
    rms = float(np.sqrt(sum(float(np.sum(v * v)) for v in params.values()) / max(size, 1)))
    cap = max(ADAM_DEFAULT_LR, WARMUP_MAX_RELATIVE_STEP * rms)
    total = sum(float(np.sum(np.abs(g))) for g in gradient.values())
    if total == 0 or not np.isfinite(total) or loss == 0:
        return cap
    return min(fall * abs(loss) / total, cap)


def train(evaluator: Evaluator, steps: int, *, optimizer: str = "sgd", lr: float | None = None,
          momentum: float = MOMENTUM) -> Training:
    """At most ``steps`` updates from the evaluator's parameters, with the
    model's grad (fewer where the loss stops being finite).

    SGD uses ``momentum`` (0: plain SGD); Adam is the bias-corrected one
    (m / (1 - beta1^t), v / (1 - beta2^t)).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if steps < 0:
        raise ValueError(f"steps must be 0 or more, got {steps}")
    params = {k: np.array(v, dtype=np.float64) for k, v in evaluator.model.params.items()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    adam = Adam(params)
    losses: list[float] = []
    ratios: dict[str, list[float]] = {k: [] for k in params}
    for t in range(1, steps + 2):
        loss, gradient = evaluator.at(params)
        losses.append(loss)
        if not np.isfinite(loss) or t == steps + 1:
            break
        adam.tick()
        if lr is None:
            lr = default_lr(params, gradient, optimizer)
        for name, g in gradient.items():
            if optimizer == "sgd":
                velocity[name] = momentum * velocity[name] - lr * g
                update = velocity[name]
            else:
                update = adam.update(name, g, lr)
            norm = float(np.linalg.norm(params[name]))
            if norm > 0:
                ratios[name].append(float(np.linalg.norm(update)) / norm)
            params[name] = params[name] + update
    return Training(
        optimizer=optimizer,
        lr=float(lr if lr is not None else 0.0),
        steps=len(losses) - 1,
        losses=tuple(losses),
        update_ratios={k: float(np.median(v)) for k, v in ratios.items() if v},
        params=params,
    )
