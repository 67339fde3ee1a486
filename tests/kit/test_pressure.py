from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from frontdesk.kit import pressure


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """No request of another test lingers into these."""
    monkeypatch.setattr(pressure, "_serving", 0)
    monkeypatch.setattr(pressure, "_last", float("-inf"))


def test_busy_while_serving_and_for_a_moment_after(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not pressure.busy()
    with pressure.serving():
        with pressure.serving():
            assert pressure.busy()
        assert pressure.busy()  # one still in flight
    assert pressure.busy()  # the lull between a group's answers and its next requests
    monkeypatch.setattr(pressure, "_last", time.monotonic() - pressure.LINGER - 0.01)
    assert not pressure.busy()


def test_a_failing_request_is_no_longer_counted() -> None:
    with pytest.raises(RuntimeError), pressure.serving():
        raise RuntimeError("boom")
    assert pressure._serving == 0


def test_pace_gives_the_rest_of_the_time_to_others_while_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(pressure, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    pace = pressure.Pace(0.25)
    assert pace.wait() == 0.0  # never ran: now
    with pressure.serving():
        assert pace.wait() == 0.0
        pace.spent(clock[0] - 0.1)  # a piece of 0.1 s: 0.3 s for the others
        assert pace.wait() == pytest.approx(0.3)
        clock[0] += 0.2
        assert pace.wait() == pytest.approx(0.1)
    clock[0] += pressure.LINGER + 0.01
    assert pace.wait() == 0.0  # nobody served: flat out
