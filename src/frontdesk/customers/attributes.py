"""Custom customer attributes defined by admins (text, number, date, list): the definitions,
and the check of every value written to a customer's attributes against them."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.customers import repository
from frontdesk.customers.models import AttributeDefinition
from frontdesk.customers.schemas import AttributeCreate, AttributeUpdate
from frontdesk.kit.errors import Conflict, Invalid, NotFound
from frontdesk.kit.events import record

MAX_TEXT = 500
_NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")


async def definitions(session: AsyncSession) -> list[AttributeDefinition]:
    return list(await repository.list_definitions(session))


async def get_or_raise(session: AsyncSession, definition_id: int) -> AttributeDefinition:
    found = await repository.get_definition(session, definition_id)
    if found is None:
        raise NotFound("attribute not found")
    return found


async def create(session: AsyncSession, data: AttributeCreate) -> AttributeDefinition:
    """Define a custom attribute (its key is fixed once created)."""
    if await repository.get_definition_by_key(session, data.key):
        raise Conflict(f"attribute {data.key!r} exists", code="attribute_exists")
    definition = AttributeDefinition(
        key=data.key, label=data.label, kind=data.kind, options=_options(data.kind, data.options)
    )
    session.add(definition)
    await session.flush()
    record(session, "customer_attribute.created", {"attribute_id": definition.id})
    return definition


async def update(
    session: AsyncSession, definition: AttributeDefinition, data: AttributeUpdate
) -> AttributeDefinition:
    """Relabel an attribute or change a list's values (values already stored stay)."""
    if data.label is not None:
        definition.label = data.label
    if data.options is not None:
        definition.options = _options(definition.kind, data.options)
    await session.flush()
    record(session, "customer_attribute.updated", {"attribute_id": definition.id})
    return definition


async def delete(session: AsyncSession, definition: AttributeDefinition) -> None:
    """Remove a definition; customers keep their values as free attributes."""
    await session.delete(definition)
    await session.flush()
    record(session, "customer_attribute.deleted", {"attribute_id": definition.id})


def _options(kind: str, options: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(o.strip() for o in options if o.strip()))
    if kind == "list" and not cleaned:
        raise Invalid("a list attribute needs at least one value", code="invalid",
                      details=[{"loc": ["options"], "msg": "missing"}])  # fmt: skip
    return cleaned if kind == "list" else []


def check_value(definition: AttributeDefinition, value: Any) -> Any:
    """The value as stored (number as a number, date as YYYY-MM-DD), or Invalid naming the
    attribute; None or "" means: remove the attribute."""
    if value is None or value == "":
        return None
    problem = f"{definition.key}: not a valid {definition.kind}"
    if definition.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _invalid(definition, problem)
        text = str(value).strip()
        if not _NUMBER.match(text):
            raise _invalid(definition, problem)
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    if not isinstance(value, str):
        raise _invalid(definition, problem)
    value = value.strip()
    if definition.kind == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise _invalid(definition, f"{definition.key}: not a date (YYYY-MM-DD)") from None
    if definition.kind == "list":
        if value not in definition.options:
            raise _invalid(definition, f"{definition.key}: not one of the allowed values")
        return value
    if len(value) > MAX_TEXT or "\n" in value:
        raise _invalid(definition, f"{definition.key}: one line of at most {MAX_TEXT} characters")
    return value


def _invalid(definition: AttributeDefinition, message: str) -> Invalid:
    return Invalid(message, code="invalid",
                   details=[{"loc": ["attributes", definition.key], "msg": message}])  # fmt: skip


async def checked(session: AsyncSession, attributes: dict[str, Any]) -> dict[str, Any]:
    """A customer's attributes with every defined one checked and normalised (removed when
    empty); attributes nobody defined pass as they are."""
    defined = {d.key: d for d in await definitions(session)}
    result: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in defined:
            value = check_value(defined[key], value)
            if value is None:
                continue
        result[key] = value
    return result
