"""The staffing planner: agents needed per hour of week, from the arrivals and handle times
measured over the last weeks, for a service-level target (Erlang C, or Erlang A with a mean
patience), grossed up for shrinkage, with chat concurrency (docs/staffing.md).

Each channel is its own queue (dedicated agents; pooled multi-channel agents need at most the
sum). A chat agent holds `concurrency` conversations at once: the queue's servers are chat
slots, each busy for the measured handle time (which already includes the slowdown of
multitasking), and the agents on the floor are ceil(slots / concurrency). Pooling slots this
way is optimistic — a real agent's slots are not interchangeable with another's — so a
concurrency above 3 should be set from measured handle times, not hopes."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics import repository
from frontdesk.analytics.staffing import Figures, figures
from frontdesk.kit.errors import Invalid

# Channels whose agents hold several conversations at once.
CHAT_CHANNELS = frozenset(
    {"webchat", "whatsapp", "telegram", "messenger", "instagram", "sms", "sms_gateway"}
)
# A task open longer than this was waiting on the customer, not being worked: capped.
MAX_HANDLE_SECONDS = 3600.0
# Fewer measured tasks than this and a channel's handle time falls back to the default.
MIN_SAMPLES = 5
HOURS_OF_WEEK = 168
MAX_SERVERS = 100_000


@dataclass(frozen=True)
class Parameters:
    weeks: int = 4
    threshold: float = 20.0
    target: float = 0.8
    shrinkage: float = 0.3
    patience: float | None = None
    concurrency: int = 2
    default_aht: float = 300.0
    aht: float | None = None  # overrides every measured handle time
    channels: tuple[str, ...] = ()  # empty: every channel with arrivals
    tz: str | None = None  # the zone of the hours of the week; None: default_zone()


@dataclass
class ChannelLoad:
    channel: str
    contacts: int
    aht: float
    aht_source: str  # measured | default | override
    handled: int
    concurrency: int


@dataclass
class Interval:
    day: int  # Monday = 0
    hour: int
    arrivals_per_hour: float = 0.0
    on_floor: int = 0
    agents: int = 0  # rostered: on the floor grossed up for shrinkage
    service_level: float | None = None
    asa: float | None = None
    abandon_rate: float | None = None
    occupancy: float | None = None
    by_channel: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Plan:
    parameters: Parameters
    since: datetime
    until: datetime
    channels: list[ChannelLoad]
    intervals: list[Interval]
    tz: str = "UTC"  # the zone the intervals' days and hours are in

    @property
    def peak_agents(self) -> int:
        return max((i.agents for i in self.intervals), default=0)

    @property
    def agent_hours(self) -> int:
        return sum(i.agents for i in self.intervals)


def window(weeks: int, now: datetime) -> tuple[datetime, datetime]:
    """Whole weeks ending at the start of the current hour: each hour of the week occurs
    exactly `weeks` times."""
    until = now.replace(minute=0, second=0, microsecond=0)
    return until - timedelta(weeks=weeks), until


async def plan(session: AsyncSession, parameters: Parameters, *, now: datetime) -> Plan:
    """The plan from what the database measured over the last `parameters.weeks` weeks."""
    since, until = window(parameters.weeks, now)
    tz = parameters.tz or await repository.default_zone(session)
    arrivals = await repository.arrivals_by_hour_of_week(
        session, since=since, until=until, zone=zone(tz)
    )
    handled = await repository.handle_times(
        session, since=since, until=until, cap_seconds=MAX_HANDLE_SECONDS
    )
    found = build(parameters, arrivals=arrivals, handled=handled, since=since, until=until)
    found.tz = tz
    return found


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones()) | {"UTC"}


def is_zone(name: str) -> bool:
    """An IANA zone name this system knows (never a path: "America" is a directory)."""
    return name in _zones()


def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name; Invalid when there is none."""
    if not is_zone(name):
        raise Invalid(f"{name!r} is not a time zone (IANA, e.g. Asia/Tehran)",
                      code="invalid_time_zone")  # fmt: skip
    return ZoneInfo(name)


def build(
    parameters: Parameters,
    *,
    arrivals: list[tuple[str, int, int, int]],
    handled: dict[str, tuple[float, int]],
    since: datetime,
    until: datetime,
) -> Plan:
    """The plan from aggregated counts: (channel, day, hour, contacts) and channel → (mean
    handle seconds, tasks)."""
    wanted = set(parameters.channels)
    counts: dict[str, list[int]] = {}
    for channel, day, hour, n in arrivals:
        if wanted and channel not in wanted:
            continue
        counts.setdefault(channel, [0] * HOURS_OF_WEEK)[day * 24 + hour] += n
    loads = [
        _load(parameters, channel, sum(c), handled.get(channel))
        for channel, c in sorted(counts.items())
    ]
    intervals = [Interval(day=slot // 24, hour=slot % 24) for slot in range(HOURS_OF_WEEK)]
    for load in loads:
        for slot, n in enumerate(counts[load.channel]):
            if n:
                _add(intervals[slot], load, n / parameters.weeks, parameters)
    for interval in intervals:
        _finish(interval, parameters)
    return Plan(parameters, since, until, loads, intervals)


def _load(
    parameters: Parameters, channel: str, contacts: int, measured: tuple[float, int] | None
) -> ChannelLoad:
    handled = measured[1] if measured else 0
    if parameters.aht is not None:
        aht, source = parameters.aht, "override"
    elif measured and measured[1] >= MIN_SAMPLES and measured[0] > 0:
        aht, source = measured[0], "measured"
    else:
        aht, source = parameters.default_aht, "default"
    concurrency = parameters.concurrency if channel in CHAT_CHANNELS else 1
    return ChannelLoad(channel, contacts, round(aht, 1), source, handled, concurrency)


def _add(interval: Interval, load: ChannelLoad, rate: float, parameters: Parameters) -> None:
    try:
        found = servers_needed(
            round(rate, 4),
            load.aht,
            parameters.threshold,
            parameters.target,
            parameters.patience,
        )
    except ValueError as exc:  # beyond MAX_SERVERS: a target no roster can meet
        raise Invalid(
            f"{load.channel}: {exc}; lower the target or the handle time",
            code="target_unreachable",
        ) from exc
    on_floor = math.ceil(found.agents / load.concurrency)
    interval.by_channel[load.channel] = {
        "arrivals_per_hour": rate,
        "servers": found.agents,
        "agents": on_floor,
        "service_level": found.service_level,
        "asa": found.asa,
        "abandon_rate": found.abandon_rate,
        "occupancy": found.occupancy,
    }
    interval.on_floor += on_floor
    interval.arrivals_per_hour += rate


def _finish(interval: Interval, parameters: Parameters) -> None:
    """Totals of the hour: agents grossed up once (summing grossed-up channels would round
    up once per channel), figures weighted by each channel's arrivals."""
    interval.agents = math.ceil(interval.on_floor / (1 - parameters.shrinkage) - 1e-9)
    total = interval.arrivals_per_hour
    if total <= 0:
        return
    parts = interval.by_channel.values()
    interval.service_level = sum(p["service_level"] * p["arrivals_per_hour"] for p in parts) / total
    interval.asa = sum(p["asa"] * p["arrivals_per_hour"] for p in parts) / total
    interval.abandon_rate = sum(p["abandon_rate"] * p["arrivals_per_hour"] for p in parts) / total
    servers = sum(p["servers"] for p in parts)
    interval.occupancy = sum(p["occupancy"] * p["servers"] for p in parts) / servers


@lru_cache(maxsize=4096)
def servers_needed(
    arrivals_per_hour: float,
    aht: float,
    threshold: float,
    target: float,
    patience: float | None,
) -> Figures:
    """The fewest servers meeting the target. Service level rises with servers, so the
    search gallops from a first guess then bisects: a few evaluations instead of n. Erlang A
    (costly per evaluation) starts from the Erlang C answer (cheap), which is close."""

    def meets(n: int) -> Figures | None:
        found = figures(
            arrivals_per_hour=arrivals_per_hour,
            aht=aht,
            agents=n,
            threshold=threshold,
            patience=patience,
        )
        return found if found.service_level >= target else None

    load = arrivals_per_hour / 3600.0 * aht
    if patience is None:
        # Without abandonment fewer servers than the load never keep up.
        return _search(meets, max(1, math.floor(load) + 1), floor=max(1, math.floor(load) + 1))
    guess = servers_needed(arrivals_per_hour, aht, threshold, target, None).agents
    return _search(meets, guess, floor=1)


def _search(meets: Callable[[int], Figures | None], guess: int, *, floor: int) -> Figures:
    """The smallest n ≥ floor with meets(n), given that meets is monotone in n."""
    found = meets(guess)
    if found is not None:  # gallop down to a miss (or the floor)
        high, best, step = guess, found, 1
        low = high - step
        while low >= floor and (candidate := meets(low)) is not None:
            high, best = low, candidate
            step *= 2
            low = high - step
        if low < floor:
            if high == floor:
                return best
            low = floor - 1  # below the floor counts as a miss
    else:  # gallop up to a hit
        low, step = guess, 1
        high = low + step
        while (candidate := meets(high)) is None:
            low = high
            step *= 2
            high = low + step
            if high > MAX_SERVERS:
                raise ValueError(f"no staffing up to {MAX_SERVERS} agents meets the target")
        best = candidate
    while high - low > 1:  # meets(low) misses (or low < floor), meets(high) hits
        middle = (low + high) // 2
        if (candidate := meets(middle)) is None:
            low = middle
        else:
            high, best = middle, candidate
    return best
