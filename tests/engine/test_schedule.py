"""The Learner's learning-rate and lambda schedules (docs/dualsr.md §5)."""

from __future__ import annotations

import pytest

from dualsr_cli.engine.zero_shot.schedule import LambdaSchedule, learning_rates


@pytest.mark.parametrize(
    ("iteration", "up", "dn"),
    [
        (0, 1e-3, 2e-4),
        (749, 1e-3, 2e-4),
        (750, 5e-4, 2e-4),
        (751, 5e-4, 5e-5),
        (1500, 2.5e-4, 5e-5),
        (1501, 2.5e-4, 1.25e-5),
        (2250, 1.25e-4, 1.25e-5),
        (2251, 1.25e-4, 3.125e-6),
        (2999, 1.25e-4, 3.125e-6),
    ],
)
def test_official_learning_rates_have_the_off_by_one(iteration, up, dn):
    lr_up, lr_dn, lr_d = learning_rates(iteration, 1e-3, 2e-4, 2e-4)
    assert lr_up == pytest.approx(up) and lr_dn == pytest.approx(dn) and lr_d == pytest.approx(dn)


def test_aligned_learning_rates_step_together():
    assert learning_rates(750, 1e-3, 2e-4, 2e-4, aligned=True) == pytest.approx((5e-4, 5e-5, 5e-5))
    assert learning_rates(749, 1e-3, 2e-4, 2e-4, aligned=True) == pytest.approx((1e-3, 2e-4, 2e-4))


def run(schedule: LambdaSchedule, losses: dict[int, float], until: int, default: float = 0.1) -> dict[int, tuple]:
    seen = {}
    for it in range(until):
        schedule.update(it, losses.get(it, default))
        lam = schedule.lambdas
        seen[it] = (lam.bicubic, lam.centralized, lam.sparse)
    return seen


def test_lambda_schedule_when_bicubic_similarity_comes_early():
    schedule = LambdaSchedule()
    seen = run(schedule, {}, 1000)
    assert schedule.similar_to_bicubic
    assert seen[199] == (5, 0, 0)
    assert seen[200] == pytest.approx((0.05, 0, 0))  # takes effect from iteration 201
    assert seen[400] == pytest.approx((5e-4, 1, 5))  # constraints inserted once lambda_bic < 5e-3
    assert seen[600] == pytest.approx((5e-6, 1, 5))
    assert seen[999] == pytest.approx((5e-6, 1, 5))  # floor reached, no further decay


def test_flag_needs_three_consecutive_qualifying_calls_and_resets():
    schedule = LambdaSchedule()
    for it, loss in enumerate([0.1, 0.1, 0.1, 0.9, 0.1, 0.1]):  # call 0 is ignored; 3 resets the streak
        schedule.update(it, loss)
    assert not schedule.similar_to_bicubic
    schedule.update(6, 0.1)
    assert schedule.similar_to_bicubic


def test_late_trigger_moves_decays_to_later_multiples_of_200():
    losses = {it: 0.9 for it in range(250)}
    seen = run(LambdaSchedule(), losses, 700)
    assert seen[400][0] == pytest.approx(0.05)
    assert seen[600] == pytest.approx((5e-4, 1, 5))
