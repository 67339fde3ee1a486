"""Staffing planner benchmark: the cost of one plan (168 hours of week x C channels) from
aggregated arrivals, with Erlang C and with Erlang A, cold (empty memo) and warm.

Arrivals follow a working-week shape (busy 9-18 on weekdays, quiet nights and weekends)
scaled so the busiest hour of each channel gets --peak contacts per hour.

Usage: python bench/staffing.py [--peak 2000] [--channels 4] [--patience 120] [--repeat 5]
Prints one line per mode: `mode=... channels=... peak=... cold_ms=... warm_ms=... peak_agents=...`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

# bench/email.py would shadow the standard library's email package.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

from frontdesk.analytics import planner

CHANNELS = ("voice", "webchat", "whatsapp", "email", "sms", "telegram", "messenger")


def shape(day: int, hour: int) -> float:
    weekday = day < 5
    if 9 <= hour < 18:
        return 1.0 if weekday else 0.35
    if 7 <= hour < 22:
        return 0.45 if weekday else 0.2
    return 0.05


def arrivals(peak: float, channels: int) -> list[tuple[str, int, int, int]]:
    rows = []
    for n, channel in enumerate(CHANNELS[:channels]):
        scale = peak / (n + 1)
        for day in range(7):
            for hour in range(24):
                rows.append((channel, day, hour, round(scale * shape(day, hour))))
    return rows


def run(parameters: planner.Parameters, rows: list[tuple[str, int, int, int]]) -> tuple[float, int]:
    start = time.perf_counter()
    plan = planner.build(
        parameters,
        arrivals=rows,
        handled={c: (240.0, 100) for c in CHANNELS},
        since=datetime(2026, 11, 1, tzinfo=UTC),
        until=datetime(2026, 11, 8, tzinfo=UTC),
    )
    return (time.perf_counter() - start) * 1000, plan.peak_agents


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--peak", type=float, default=2000)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--patience", type=float, default=120)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = arrivals(args.peak, args.channels)
    for mode, patience in (("erlang_c", None), ("erlang_a", args.patience)):
        parameters = planner.Parameters(weeks=1, patience=patience, shrinkage=0.3)
        colds, warms = [], []
        for _ in range(args.repeat):
            planner.servers_needed.cache_clear()
            cold, peak_agents = run(parameters, rows)
            warm, _ = run(parameters, rows)
            colds.append(cold)
            warms.append(warm)
        print(
            f"mode={mode} channels={args.channels} peak={args.peak:g}/h "
            f"cold_ms={statistics.median(colds):.1f} warm_ms={statistics.median(warms):.1f} "
            f"peak_agents={peak_agents}"
        )


if __name__ == "__main__":
    main()
