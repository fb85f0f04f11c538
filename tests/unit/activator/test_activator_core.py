"""The activator's decisions, with time passed in: admission, the bounded queue, timeouts,
activation calls and their retries, polling and the cold start's duration."""

from __future__ import annotations

import pytest

from lepton.activator.core import Admission, Gate, Outcome


def gate(**overrides: float) -> Gate:
    settings = {"queue_size": 2, "timeout_s": 10.0, "linger_s": 5.0, "remind_after_ok_s": 10.0}
    settings |= overrides
    settings["retry_after_error_s"] = settings.get("retry_after_error_s", 2.0)
    return Gate(**settings)  # type: ignore[arg-type]


def test_requests_are_held_until_the_queue_is_full_and_forwarded_once_ready() -> None:
    g = gate()
    assert g.admit(0.0) is Admission.HOLD
    assert g.admit(0.1) is Admission.HOLD
    assert g.admit(0.2) is Admission.QUEUE_FULL
    assert g.pending == 2
    assert g.check(0.0, 1.0) is Outcome.WAIT
    assert g.probed(3.0, ready=True) == pytest.approx(3.0)  # from the first held request
    assert g.check(0.0, 3.0) is Outcome.FORWARD
    g.release(3.0)
    g.release(3.0)
    assert g.admit(3.1) is Admission.FORWARD  # no queueing once ready
    assert g.pending == 0


def test_a_slot_freed_by_a_departing_client_admits_the_next_request() -> None:
    g = gate(queue_size=1)
    assert g.admit(0.0) is Admission.HOLD
    assert g.admit(0.1) is Admission.QUEUE_FULL
    g.release(0.15)  # the client went away
    assert g.admit(0.2) is Admission.HOLD


def test_a_held_request_times_out_after_timeout_s_unless_the_backend_got_ready() -> None:
    g = gate(timeout_s=10.0)
    g.admit(0.0)
    assert g.check(0.0, 9.99) is Outcome.WAIT
    assert g.check(0.0, 10.0) is Outcome.TIMED_OUT
    g.probed(10.5, ready=True)
    assert g.check(0.0, 10.5) is Outcome.FORWARD


def test_the_first_held_request_asks_at_once_and_later_ones_do_not() -> None:
    g = gate()
    assert not g.activation_due(0.0)  # nothing held: nothing to ask for
    g.admit(0.0)
    assert g.activation_due(0.0)
    g.activation_started()
    g.admit(0.05)
    assert not g.activation_due(0.05)  # one call at a time
    g.activation_finished(0.1, ok=True)
    assert not g.activation_due(10.0)
    assert g.activation_due(10.1)  # a reminder, in case the operator lost it


def test_a_failed_activation_is_retried_sooner_than_a_reminder() -> None:
    g = gate(retry_after_error_s=2.0)
    g.admit(0.0)
    g.activation_started()
    g.activation_finished(0.5, ok=False)
    assert not g.activation_due(2.4)
    assert g.activation_due(2.5)


def test_no_activation_once_ready_or_draining() -> None:
    g = gate()
    g.admit(0.0)
    g.probed(0.5, ready=True)
    assert not g.activation_due(0.5)
    h = gate()
    h.admit(0.0)
    h.drain()
    assert not h.activation_due(0.0)
    assert h.check(0.0, 0.1) is Outcome.DRAINING
    assert h.admit(0.2) is Admission.DRAINING


def test_draining_still_forwards_when_the_backend_is_ready() -> None:
    g = gate()
    g.admit(0.0)
    g.probed(1.0, ready=True)
    g.drain()
    assert g.check(0.0, 1.0) is Outcome.FORWARD


def test_a_cold_start_abandoned_by_every_client_starts_afresh_and_asks_again() -> None:
    g = gate(timeout_s=2.0)
    g.admit(0.0)
    g.activation_started()
    g.activation_finished(0.1, ok=True)
    assert g.check(0.0, 2.0) is Outcome.TIMED_OUT
    g.release(2.0)
    assert g.admit(30.0) is Admission.HOLD
    assert g.activation_due(30.0)  # a new cold start asks at once, not at the old reminder time
    assert g.probed(31.0, ready=True) == pytest.approx(1.0)  # measured from the new start


def test_one_cold_start_is_observed_once() -> None:
    g = gate()
    g.admit(0.0)
    assert g.probed(0.2, ready=False) is None
    assert g.probed(2.0, ready=True) == pytest.approx(2.0)
    assert g.probed(2.2, ready=True) is None


def test_polling_runs_while_requests_wait_and_lingers_then_forgets_readiness() -> None:
    g = gate(linger_s=5.0)
    assert not g.polling(0.0)  # idle from the start: nothing sent anywhere
    g.admit(1.0)
    assert g.polling(100.0)  # held requests: poll however long
    g.probed(100.0, ready=True)
    g.release(100.0)
    assert g.polling(104.9)  # the request arrived at 1.0, but was held until 100.0
    g.admit(101.0)
    assert g.polling(105.9)
    assert g.ready
    assert not g.polling(106.0)
    assert not g.ready  # unknown again: the next request holds and asks
    assert g.admit(107.0) is Admission.HOLD


def test_a_forward_that_cannot_connect_makes_the_backend_not_ready() -> None:
    g = gate()
    g.probed(0.0, ready=True)
    assert g.admit(0.1) is Admission.FORWARD
    g.backend_lost()
    assert g.admit(0.1) is Admission.HOLD
    assert g.activation_due(0.1)


def test_retry_after_is_at_least_a_second_and_at_most_the_timeout() -> None:
    assert gate(timeout_s=60.0).retry_after() == 5
    assert gate(timeout_s=2.0).retry_after() == 2
    assert gate(timeout_s=0.2).retry_after() == 1


@pytest.mark.parametrize(("queue_size", "timeout_s"), [(0, 1.0), (1, 0.0)])
def test_nonsense_limits_are_refused(queue_size: int, timeout_s: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Gate(queue_size, timeout_s)
