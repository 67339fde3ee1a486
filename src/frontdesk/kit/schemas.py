"""Building blocks of every request and answer schema: row ids, request bodies that refuse
unknown fields, PATCH fields that may be left out but not nulled, and the error body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# Ids are 64-bit integer keys on both databases: anything outside them names no row, and
# would otherwise reach the driver (OverflowError, NumericValueOutOfRange) as a 500.
MAX_ID = 2**63 - 1

Id = Annotated[int, Ge(1), Le(MAX_ID)]
"""A row id in a path, a query or a body: 1 … 2^63-1, else 422 before any lookup."""


class RequestBody(BaseModel):
    """Every request body: unknown fields are refused (422 naming them), never ignored."""

    model_config = ConfigDict(extra="forbid")


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
