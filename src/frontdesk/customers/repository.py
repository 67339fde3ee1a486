"""All SQL about customers and identities."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.conversations.models import Conversation, Message
from frontdesk.customers.models import Customer, Identity, OptOut


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
    return (
        await session.scalars(
            select(Identity).where(Identity.customer_id == customer_id).order_by(Identity.id)
        )
    ).all()


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
