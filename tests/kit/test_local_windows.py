"""In-process rate windows (public autocomplete and feedback)."""

from __future__ import annotations

import pytest

from frontdesk.kit.ratelimit import LocalWindows


class TestLocalWindows:
    def test_caps_each_key_per_window_and_resets(self):
        windows = LocalWindows(2, period=60)
        assert [windows.take("ip", now=600.0) for _ in range(2)] == [0.0, 0.0]
        assert windows.take("ip", now=630.0) == pytest.approx(30.01)
        assert windows.take("other", now=630.0) == 0.0
        assert windows.take("ip", now=660.0) == 0.0  # the next minute
