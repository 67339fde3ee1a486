"""All SQL about customers and identities."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, literal_column, select, update
from sqlalchemy import text as text_clause
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation, Message
from frontdesk.customers.models import (
    KEY_SEPARATOR,
    AttributeDefinition,
    Customer,
    CustomerMerge,
    Identity,
    OptOut,
    customer_search_key,
)
from frontdesk.kit import memo
from frontdesk.kit.text import search_key

# FTS5's trigram tokenizer indexes substrings of three characters and more.
TRIGRAM = 3


async def get_customer(session: AsyncSession, customer_id: int) -> Customer | None:
    return await session.get(Customer, customer_id)


async def find_identities_with_customers(
    session: AsyncSession, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], tuple[Identity, Customer]]:
    """Identities by (kind, address), each with its customer (one query)."""
    if not keys:
        return {}
    # Uses index: uq_identities_kind (kind, address); addresses rarely collide across kinds.
    rows = await session.execute(
        select(Identity, Customer)
        .join(Customer, Customer.id == Identity.customer_id)
        .where(
            Identity.kind.in_({kind for kind, _ in keys}),
            Identity.address.in_({address for _, address in keys}),
        )
    )
    return {
        (identity.kind, identity.address): (identity, customer)
        for identity, customer in rows.tuples().all()
        if (identity.kind, identity.address) in keys
    }


async def find_identity(session: AsyncSession, kind: str, address: str) -> Identity | None:
    return await session.scalar(
        select(Identity).where(Identity.kind == kind, Identity.address == address)
    )


async def find_identities_by_address(
    session: AsyncSession, address: str, *, kind: str | None
) -> Sequence[Identity]:
    query = select(Identity).where(Identity.address == address).order_by(Identity.id)
    if kind is not None:
        query = query.where(Identity.kind == kind)
    return (await session.scalars(query)).all()


async def opt_outs_of_addresses(
    session: AsyncSession, kind: str, addresses: Collection[str], scope: str
) -> Sequence[tuple[str, OptOut]]:
    """(address, standing opt-out) of the identities of `kind` at these addresses that opted
    out on `scope`: one query for a batch of sends."""
    if not addresses:
        return []
    rows = await session.execute(
        select(Identity.address, OptOut)
        .join(OptOut, OptOut.identity_id == Identity.id)
        .where(
            Identity.kind == kind,
            Identity.address.in_(list(addresses)),
            OptOut.scope == scope,
            OptOut.opted_out.is_(True),
        )
    )
    return [(address, row) for address, row in rows.all()]


async def get_opt_out(session: AsyncSession, identity_id: int, scope: str) -> OptOut | None:
    # Uses index: uq_identity_opt_outs_identity_id_scope.
    return await session.scalar(
        select(OptOut).where(OptOut.identity_id == identity_id, OptOut.scope == scope)
    )


async def get_identity(session: AsyncSession, identity_id: int) -> Identity | None:
    return await session.get(Identity, identity_id)


async def identities_of(session: AsyncSession, customer_id: int) -> Sequence[Identity]:
    async def load() -> Sequence[Identity]:
        query = select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.id)
        return (await session.scalars(query)).all()

    # Once per request: the conversation's context and its "Reply on" menu both ask.
    return await memo.once(session, ("identities", customer_id), load)


async def identities_of_many(
    session: AsyncSession, customer_ids: Sequence[int]
) -> dict[int, list[Identity]]:
    """Each customer's identities (one query; uses index: ix_identities_customer_id)."""
    found: dict[int, list[Identity]] = {customer_id: [] for customer_id in customer_ids}
    if not customer_ids:
        return found
    rows = await session.scalars(
        select(Identity).where(Identity.customer_id.in_(customer_ids)).order_by(Identity.id)
    )
    for identity in rows.all():
        found[identity.customer_id].append(identity)
    return found


async def list_customers(
    session: AsyncSession, *, inbox_ids: set[int] | None, after: int | None, limit: int
) -> Sequence[Customer]:
    query = (
        select(Customer).where(Customer.merged_into_id.is_(None)).order_by(Customer.id).limit(limit)
    )
    if after is not None:
        query = query.where(Customer.id > after)
    if inbox_ids is not None:
        query = query.where(_has_conversation_in(inbox_ids))
    return (await session.scalars(query)).all()


def _has_conversation_in(inbox_ids: set[int]):
    return exists().where(
        Conversation.customer_id == Customer.id, Conversation.inbox_id.in_(inbox_ids or {-1})
    )


async def customer_visible(session: AsyncSession, customer_id: int, inbox_ids: set[int]) -> bool:
    found = await session.scalar(
        select(Conversation.id)
        .where(
            Conversation.customer_id == customer_id, Conversation.inbox_id.in_(inbox_ids or {-1})
        )
        .limit(1)
    )
    return found is not None


async def merge_inventory(
    session: AsyncSession, customer_id: int
) -> tuple[list[int], list[int], list[int]]:
    """What a merge of this customer would move: its identities, its conversations, and the
    customers merged into it earlier."""
    identity_ids = await session.scalars(
        select(Identity.id).where(Identity.customer_id == customer_id)
    )
    conversation_ids = await session.scalars(
        select(Conversation.id).where(Conversation.customer_id == customer_id)
    )
    redirected = await session.scalars(
        select(Customer.id).where(Customer.merged_into_id == customer_id)
    )
    return list(identity_ids.all()), list(conversation_ids.all()), list(redirected.all())


async def move_back(session: AsyncSession, record: CustomerMerge) -> None:
    """Undo the moves of one merge: the identities and conversations it moved (with their
    messages) that are still on the kept customer, and the redirects it changed."""
    target, source = record.merged_id, record.customer_id
    for model, ids in (
        (Identity, record.identity_ids),
        (Conversation, record.conversation_ids),
    ):
        if ids:
            await session.execute(
                update(model)
                .where(model.id.in_(ids), model.customer_id == source)
                .values(customer_id=target)
                .execution_options(synchronize_session=False)
            )
    if record.conversation_ids:
        await session.execute(
            update(Message)
            .where(Message.conversation_id.in_(record.conversation_ids))
            .values(customer_id=target)
            .execution_options(synchronize_session=False)
        )
    if record.redirected_ids:
        await session.execute(
            update(Customer)
            .where(Customer.id.in_(record.redirected_ids), Customer.merged_into_id == source)
            .values(merged_into_id=target)
            .execution_options(synchronize_session=False)
        )


async def list_merges(session: AsyncSession, customer_id: int) -> Sequence[CustomerMerge]:
    # Uses index: ix_customer_merges_customer_id.
    return (
        await session.scalars(
            select(CustomerMerge)
            .where(CustomerMerge.customer_id == customer_id)
            .order_by(CustomerMerge.id.desc())
            .limit(100)
        )
    ).all()


async def get_merge(session: AsyncSession, merge_id: int) -> CustomerMerge | None:
    return await session.get(CustomerMerge, merge_id)


async def list_definitions(session: AsyncSession) -> Sequence[AttributeDefinition]:
    async def load() -> Sequence[AttributeDefinition]:
        query = select(AttributeDefinition).order_by(AttributeDefinition.id)
        return (await session.scalars(query)).all()

    # Once per request: the directory's filters and its search both ask.
    return await memo.once(session, ("attribute definitions",), load)


async def get_definition(session: AsyncSession, definition_id: int) -> AttributeDefinition | None:
    return await session.get(AttributeDefinition, definition_id)


async def get_definition_by_key(session: AsyncSession, key: str) -> AttributeDefinition | None:
    return await session.scalar(select(AttributeDefinition).where(AttributeDefinition.key == key))


async def search_customers(
    session: AsyncSession,
    *,
    inbox_ids: set[int] | None,
    text: str,
    filters: Sequence[tuple[AttributeDefinition, Any]],
    after: int | None,
    limit: int,
) -> Sequence[Customer]:
    """Customers (not merged away) whose name, any identity or any attribute value contains
    `text` (folded: customer_search_key), and whose attributes match every filter, newest
    first from `after`, at most `limit`."""
    query = (
        select(Customer)
        .where(Customer.merged_into_id.is_(None))
        .order_by(Customer.id.desc())
        .limit(limit)
    )
    if after is not None:
        query = query.where(Customer.id < after)
    if inbox_ids is not None:
        query = query.where(_has_conversation_in(inbox_ids))
    needle = search_key(text).replace(KEY_SEPARATOR, " ")
    if needle:
        query = query.where(_key_contains(session, needle))
    for definition, value in filters:
        field = Customer.attributes[definition.key]
        if definition.kind == "number":
            query = query.where(field.as_float() == float(value))
        elif definition.kind == "text":
            query = query.where(field.as_string().ilike(f"%{_escape_like(value)}%", escape="\\"))
        else:
            query = query.where(field.as_string() == str(value))
    return (await session.scalars(query)).all()


def _key_contains(session: AsyncSession, needle: str) -> ColumnElement[bool]:
    """The customers whose search key contains `needle`. Uses index (migration 0047), for
    three characters and more: the trigram GIN index on PostgreSQL (where pg_trgm could be
    created), the trigram FTS5 table customers_fts on SQLite. Shorter needles scan."""
    like = Customer.search_key.like(f"%{_escape_like(needle)}%", escape="\\")
    if session.get_bind().dialect.name == "postgresql" or len(needle) < TRIGRAM:
        return like
    # A quoted FTS5 string matches as a substring under the trigram tokenizer ("" is a ").
    phrase = '"' + needle.replace('"', '""') + '"'
    rowids: Select[Any] = (
        select(literal_column("rowid"))
        .select_from(text_clause("customers_fts"))
        .where(text_clause("customers_fts MATCH :customer_q").bindparams(customer_q=phrase))
    )
    return Customer.id.in_(rowids)


async def refresh_search_keys(session: AsyncSession, customer_ids: Collection[int]) -> None:
    """Recompute these customers' search keys from their name, identities and attributes
    (two queries). Reads addresses as columns: a bulk move (merge, split) leaves loaded
    identities' customer_id stale."""
    if not customer_ids:
        return
    rows = await session.execute(
        select(Identity.customer_id, Identity.address)
        .where(Identity.customer_id.in_(set(customer_ids)))
        .order_by(Identity.id)
    )
    addresses: dict[int, list[str]] = {}
    for customer_id, address in rows.all():
        addresses.setdefault(customer_id, []).append(address)
    for customer in await session.scalars(
        select(Customer).where(Customer.id.in_(set(customer_ids)))
    ):
        customer.search_key = customer_search_key(
            customer.name, addresses.get(customer.id, []), customer.attributes or {}
        )
    await session.flush()


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def move_customer_rows(session: AsyncSession, *, source: int, target: int) -> None:
    for model in (Identity, Conversation, Message):
        await session.execute(
            update(model)
            .where(model.customer_id == source)
            .values(customer_id=target)
            .execution_options(synchronize_session=False)
        )
    # Earlier merges into the source now point at the target (no chains to follow).
    await session.execute(
        update(Customer)
        .where(Customer.merged_into_id == source)
        .values(merged_into_id=target)
        .execution_options(synchronize_session=False)
    )


async def timeline(
    session: AsyncSession,
    customer_id: int,
    *,
    inbox_ids: set[int] | None,
    after: int | None,
    limit: int,
) -> Sequence[Message]:
    # Uses index: ix_messages_customer_id.
    query = (
        select(Message).where(Message.customer_id == customer_id).order_by(Message.id).limit(limit)
    )
    if after is not None:
        query = query.where(Message.id > after)
    if inbox_ids is not None:
        query = query.where(Message.inbox_id.in_(inbox_ids or {-1}))
    return (await session.scalars(query)).all()


async def get_identities(session: AsyncSession, identity_ids: set[int]) -> dict[int, Identity]:
    if not identity_ids:
        return {}
    rows = await session.scalars(select(Identity).where(Identity.id.in_(identity_ids)))
    return {identity.id: identity for identity in rows.all()}


async def get_customers(session: AsyncSession, customer_ids: set[int]) -> dict[int, Customer]:
    if not customer_ids:
        return {}
    rows = await session.scalars(select(Customer).where(Customer.id.in_(customer_ids)))
    return {customer.id: customer for customer in rows.all()}
