"""Building blocks of every request and answer schema: row ids, request bodies that refuse
unknown fields, PATCH fields that may be left out but not nulled, and the error body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from annotated_types import Ge, Le
from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# Row ids are INTEGER columns (32-bit on PostgreSQL, 64-bit on SQLite): a number outside
# the narrower range names no row, and would otherwise reach the driver as a 500
# (NumericValueOutOfRange on PostgreSQL, OverflowError past 2^63 on SQLite). Raise it with
# the columns, if they ever become BIGINT.
MAX_ID = 2**31 - 1

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""A row id in a path, a query or a body: 1 … 2^31-1, else 422 before any lookup."""


class RequestBody(BaseModel):
    """Every request body: unknown fields are refused (422 naming them), never ignored, and
    so is a NUL character anywhere in it (PostgreSQL cannot store one in text)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        where = _nul_at(data)
        if where is not None:
            raise PydanticCustomError(
                "nul_character", "a NUL character is not allowed (at {where})", {"where": where}
            )
        return data


def _nul_at(value: Any, path: str = "") -> str | None:
    """Where the first NUL is in a JSON value (keys included), or None."""
    if isinstance(value, str):
        return path or "." if "\x00" in value else None
    items: Any = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        name = str(key).replace("\x00", "\\0")  # never echo the NUL itself
        here = f"{path}.{name}" if path else name
        if isinstance(key, str) and "\x00" in key:
            return here
        found = _nul_at(item, here)
        if found is not None:
            return found
    return None


@dataclass(frozen=True, slots=True)
class _RefuseNull:
    """`NotNull[X]`: a PATCH field that may be omitted (None = unchanged) but not sent as
    null, because the column behind it has no "nothing" (status, priority, password…)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_before_validator_function(_refuse_null, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        described = handler(schema)
        branches = [b for b in described.get("anyOf", []) if b.get("type") != "null"]
        if len(branches) == 1:
            rest = {key: value for key, value in described.items() if key != "anyOf"}
            return {**branches[0], **rest}
        return described


def _refuse_null(value: Any) -> Any:
    # Runs only on values actually sent: a left-out field keeps its default without validation.
    if value is None:
        raise PydanticCustomError("not_null", "may be left out, but not null")
    return value


T = TypeVar("T")
NotNull = Annotated[T | None, _RefuseNull()]


class ErrorDetail(BaseModel):
    code: str
    message: str
    # Validation errors (code "invalid") list every problem: where it is and what is wrong.
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """What every error answers: {"error": {"code", "message"}}."""

    error: ErrorDetail
