"""SLA business-time benchmark: due-time computations (`businesstime.add`) and elapsed
business time (`businesstime.between`) per second on the demo's calendars, for the targets a
clock schedules (first response 1 h, resolution 8 h and 3 working days).

    .venv/bin/python bench/sla.py [--n 20000] [--seed 1]

Every clock start, pause and resume does one `add` per job it schedules (two) and a pause one
`between`; a conversation read does one `between` per running clock. Every figure is
printed; nothing is asserted."""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from frontdesk.sla import businesstime as bt

CALENDARS = {
    "around the clock": bt.ALWAYS,
    "London office": bt.calendar(
        "Europe/London",
        {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        ["2026-12-25", "2026-12-28", "2027-01-01"],
    ),
    "Riyadh Sun-Thu": bt.calendar(
        "Asia/Riyadh", {d: ["09:00-17:00"] for d in ("sun", "mon", "tue", "wed", "thu")}
    ),
}
TARGETS = (3600, 8 * 3600, 27 * 3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(seconds=rng.randrange(0, 365 * 86400)) for _ in range(args.n)]
    results = {}
    for name, cal in CALENDARS.items():
        for target in TARGETS:
            began = time.perf_counter()
            latencies = []
            for instant in instants:
                t0 = time.perf_counter()
                bt.add(cal, instant, target)
                latencies.append(time.perf_counter() - t0)
            wall = time.perf_counter() - began
            latencies.sort()
            results[f"add {name} {target // 3600}h"] = {
                "per_second": round(args.n / wall),
                "p99_us": round(latencies[int(0.99 * len(latencies))] * 1e6, 1),
            }
        began = time.perf_counter()
        for instant in instants:
            bt.between(cal, instant, instant + timedelta(days=2))
        wall = time.perf_counter() - began
        results[f"between {name} 2 days"] = {"per_second": round(args.n / wall)}
    print(json.dumps({"n": args.n, "load_average": os.getloadavg(), "results": results}, indent=1))


if __name__ == "__main__":
    main()
