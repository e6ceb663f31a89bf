"""DualSR's Learner as plain functions (``docs/dualsr.md`` §5).

Learning rates are a pure function of the iteration. The regulariser weights depend on the history of
the bicubic loss, so they are a small state updated after every iteration.

Official off-by-one (kept by default): G_UP's StepLR is stepped from iteration 0 and halves its rate at
iterations 750, 1500, 2250, while G_DN and D_DN are divided by 4 only *after* those iterations, i.e. from
751, 1501, 2251. ``aligned=True`` moves all three to 750·m.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .losses import KernelLambdas

LR_STEP = 750
UP_DECAY = 0.5
DN_DECAY = 4.0
LAMBDA_UPDATE_EVERY = 200
BICUBIC_LOSS_TO_START = 0.4
BICUBIC_DECAY = 100.0
BICUBIC_MIN = 5e-6
INSERT_CONSTRAINTS_BELOW = 5e-3
SPARSE_END = 5.0
CENTRALIZED_END = 1.0


def learning_rates(iteration: int, base_up: float, base_dn: float, base_d: float, *, aligned: bool = False):
    """(lr G_UP, lr G_DN, lr D_DN) used *during* ``iteration`` (0-based)."""
    up_steps = iteration // LR_STEP
    dn_steps = up_steps if aligned else (max(iteration - 1, 0) // LR_STEP)
    dn_factor = DN_DECAY**dn_steps
    return base_up * UP_DECAY**up_steps, base_dn / dn_factor, base_d / dn_factor


@dataclass
class LambdaSchedule:
    """Regulariser weights and the "similar to bicubic" trigger of KernelGAN's Learner."""

    lambdas: KernelLambdas = field(default_factory=KernelLambdas)
    similar_to_bicubic: bool = False
    bicubic_loss_streak: int = 0
    constraints_inserted: bool = False

    def update(self, iteration: int, loss_bicubic: float) -> None:
        """Call after the optimiser steps of ``iteration`` with that iteration's unweighted bicubic loss."""
        if iteration == 0:
            return
        if not self.similar_to_bicubic:
            # set on the third consecutive qualifying call
            if loss_bicubic < BICUBIC_LOSS_TO_START:
                if self.bicubic_loss_streak >= 2:
                    self.similar_to_bicubic = True
                else:
                    self.bicubic_loss_streak += 1
            else:
                self.bicubic_loss_streak = 0
        elif iteration % LAMBDA_UPDATE_EVERY == 0 and self.lambdas.bicubic > BICUBIC_MIN:
            self.lambdas.bicubic = max(self.lambdas.bicubic / BICUBIC_DECAY, BICUBIC_MIN)
            if not self.constraints_inserted and self.lambdas.bicubic < INSERT_CONSTRAINTS_BELOW:
                self.lambdas.centralized = CENTRALIZED_END
                self.lambdas.sparse = SPARSE_END
                self.constraints_inserted = True
