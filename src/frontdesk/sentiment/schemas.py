from __future__ import annotations

from pydantic import BaseModel, Field, StrictBool, StrictFloat

from frontdesk.conversations.schemas import Priority
from frontdesk.kit.schemas import NotNull, RequestBody


class RuleRead(BaseModel):
    raise_priority: bool
    raise_to: str
    frustrated_below: float


class RuleUpdate(RequestBody):
    raise_priority: NotNull[StrictBool] = None  # 0 or "yes" is not a yes
    raise_to: NotNull[Priority] = None
    # -1 to 0: a trend at or below it makes the conversation frustrated (false is not 0).
    frustrated_below: NotNull[StrictFloat] = Field(default=None, ge=-1.0, le=0.0)
