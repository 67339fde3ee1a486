"""The staffing report's query and answer (GET /api/v1/reports/staffing)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from frontdesk.analytics.planner import Parameters, Plan, is_zone

DAY = 86_400


class StaffingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weeks: int = Field(4, ge=1, le=26, description="Measured weeks, ending this hour.")
    threshold: float = Field(20.0, ge=0, le=3600, description="Service-level seconds.")
    target: float = Field(0.8, ge=0.01, le=0.999, description="Share answered in threshold.")
    shrinkage: float = Field(0.3, ge=0, le=0.9, description="Share of paid time off the floor.")
    patience: float | None = Field(None, ge=5, le=DAY, description="Mean patience: Erlang A.")
    concurrency: int = Field(2, ge=1, le=10, description="Chats one agent holds at once.")
    default_aht: float = Field(300.0, ge=1, le=DAY, description="Handle time, unmeasured.")
    aht: float | None = Field(None, ge=1, le=DAY, description="Override every handle time.")
    channel: list[Annotated[str, Field(max_length=30)]] = Field(
        default_factory=list, max_length=20, description="Only these channels."
    )
    tz: str | None = Field(
        None, max_length=64,
        description="IANA zone of the hours of the week; default: the SLA calendar's, else UTC.",
    )  # fmt: skip
    format: Literal["json", "csv"] = "json"

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value and not is_zone(value):
            raise ValueError("not a time zone (IANA, e.g. Asia/Tehran)")
        return value or None

    def parameters(self) -> Parameters:
        return Parameters(
            weeks=self.weeks,
            threshold=self.threshold,
            target=self.target,
            shrinkage=self.shrinkage,
            patience=self.patience,
            concurrency=self.concurrency,
            default_aht=self.default_aht,
            aht=self.aht,
            channels=tuple(sorted(set(self.channel))),
            tz=self.tz,
        )


class ChannelLoadRead(BaseModel):
    channel: str
    contacts: int
    aht: float
    aht_source: Literal["measured", "default", "override"]
    handled: int
    concurrency: int


class ChannelIntervalRead(BaseModel):
    arrivals_per_hour: float
    servers: int
    agents: int
    service_level: float
    asa: float
    abandon_rate: float
    occupancy: float


class IntervalRead(BaseModel):
    day: int = Field(description="0 = Monday … 6 = Sunday, in the plan's tz")
    hour: int
    arrivals_per_hour: float
    on_floor: int
    agents: int
    service_level: float | None
    asa: float | None
    abandon_rate: float | None
    occupancy: float | None
    by_channel: dict[str, ChannelIntervalRead]


class StaffingRead(BaseModel):
    since: datetime
    until: datetime
    tz: str
    weeks: int
    threshold: float
    target: float
    shrinkage: float
    patience: float | None
    concurrency: int
    channels: list[ChannelLoadRead]
    intervals: list[IntervalRead]
    peak_agents: int
    agent_hours: int

    @classmethod
    def of(cls, plan: Plan) -> StaffingRead:
        p = plan.parameters
        return cls(
            since=plan.since,
            until=plan.until,
            tz=plan.tz,
            weeks=p.weeks,
            threshold=p.threshold,
            target=p.target,
            shrinkage=p.shrinkage,
            patience=p.patience,
            concurrency=p.concurrency,
            channels=[
                ChannelLoadRead.model_validate(c, from_attributes=True) for c in plan.channels
            ],
            intervals=[
                IntervalRead.model_validate(i, from_attributes=True) for i in plan.intervals
            ],
            peak_agents=plan.peak_agents,
            agent_hours=plan.agent_hours,
        )


def as_csv(plan: Plan) -> str:
    """One row per hour of week: totals, then agents on the floor per channel."""
    channels = [c.channel for c in plan.channels]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["day", "hour", "arrivals_per_hour", "agents", "on_floor", "service_level", "asa",
         "abandon_rate", "occupancy", *(f"agents_{c}" for c in channels)]
    )  # fmt: skip
    for i in plan.intervals:
        writer.writerow(
            [i.day, i.hour, _fixed(i.arrivals_per_hour), i.agents, i.on_floor,
             _fixed(i.service_level), _fixed(i.asa), _fixed(i.abandon_rate), _fixed(i.occupancy),
             *(int(i.by_channel[c]["agents"]) if c in i.by_channel else 0 for c in channels)]
        )  # fmt: skip
    return out.getvalue()


def _fixed(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
