"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Integer, any_, bindparam
from sqlalchemy.ext.asyncio import AsyncSession


def in_ids(session: AsyncSession, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """`column IN ids`. On PostgreSQL as `column = ANY(:ids)`, the ids as one array
    parameter: the same answer, but the statement's text no longer changes with the number
    of ids. A page's `IN` of 100 ids was rendered as 100 parameters, each coerced and
    compiled by SQLAlchemy, and the long text parsed again by psycopg on every request (its
    query cache keeps short texts only): ~0.2 ms of CPU per statement, four a list page."""
    wanted = sorted(set(ids))
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(wanted)
    result: ColumnElement[bool] = column == any_(
        bindparam(None, wanted, type_=ARRAY(Integer), unique=True)
    )
    return result
