"""Customers: lookup by identity, profile, identities, merge, cross-channel timeline."""

from __future__ import annotations

from fastapi import APIRouter, Request

from frontdesk.customers import attributes, repository, service
from frontdesk.customers.schemas import (
    AttributeCreate,
    AttributeRead,
    AttributeUpdate,
    CustomerRead,
    CustomerUpdate,
    IdentityCreate,
    IdentityRead,
    MergeRead,
    MergeRequest,
    SplitRequest,
    TimelineItem,
)
from frontdesk.deps import AdminAgent, CurrentAgent, SessionDep
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import uow
from frontdesk.kit.openapi import errors
from frontdesk.kit.pagination import Page, clamp_limit, decode_cursor, encode_cursor
from frontdesk.kit.schemas import Id

router = APIRouter(tags=["customers"])


@router.get("/customers", response_model=Page[CustomerRead])
async def list_customers(
    session: SessionDep,
    agent: CurrentAgent,
    request: Request,
    identity: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[CustomerRead]:
    """By exact identity; or searched (`q`: name, any identity, any attribute value; and
    `attr.KEY=VALUE` for admin-defined attributes), newest first; or all, oldest first."""
    if identity is not None:
        found = await service.find_by_identity(session, identity, agent=agent)
        return Page(items=[await service.read(session, item) for item in found])
    size = clamp_limit(limit)
    filters = attribute_filters(request.query_params.multi_items())
    if q is not None or filters:
        found = await service.search(
            session, agent=agent, text=q or "", filters=filters,
            after=decode_cursor(cursor), limit=size,
        )  # fmt: skip
        items = [await service.read(session, row) for row in found]
        more = encode_cursor(found[-1].id) if len(found) == size else None
        return Page(items=items, next_cursor=more)
    rows = await repository.list_customers(
        session,
        inbox_ids=await visible_inbox_ids(session, agent),
        after=decode_cursor(cursor),
        limit=size,
    )
    items = [await service.read(session, row) for row in rows]
    return Page(items=items, next_cursor=encode_cursor(rows[-1].id) if len(rows) == size else None)


@router.get("/customers/{customer_id}", response_model=CustomerRead)
async def read_customer(customer_id: Id, session: SessionDep, agent: CurrentAgent) -> CustomerRead:
    return await service.read(
        session, await service.get_or_raise(session, customer_id, agent=agent)
    )


@router.patch("/customers/{customer_id}", response_model=CustomerRead)
async def update_customer(
    customer_id: Id, data: CustomerUpdate, session: SessionDep, agent: CurrentAgent
) -> CustomerRead:
    customer = await service.get_or_raise(session, customer_id, agent=agent)
    await service.update_customer(session, customer, data)
    await uow.commit(session)
    return await service.read(session, customer)


@router.get("/customers/{customer_id}/timeline", response_model=Page[TimelineItem])
async def read_timeline(
    customer_id: Id,
    session: SessionDep,
    agent: CurrentAgent,
    cursor: str | None = None,
    limit: int | None = None,
) -> Page[TimelineItem]:
    customer = await service.get_or_raise(session, customer_id, agent=agent)
    size = clamp_limit(limit)
    items = await service.timeline(
        session, customer, agent=agent, after=decode_cursor(cursor), limit=size
    )
    return Page(
        items=items, next_cursor=encode_cursor(items[-1].id) if len(items) == size else None
    )


@router.post(
    "/customers/{customer_id}/identities",
    response_model=IdentityRead,
    status_code=201,
    responses=errors(409),
)
async def add_identity(
    customer_id: Id, data: IdentityCreate, session: SessionDep, agent: CurrentAgent
) -> IdentityRead:
    customer = await service.get_or_raise(session, customer_id, agent=agent)
    identity = await service.add_identity(session, customer, data)
    await uow.commit(session)
    return IdentityRead.model_validate(identity)


@router.delete("/customers/{customer_id}/identities/{identity_id}", status_code=204)
async def remove_identity(
    customer_id: Id, identity_id: Id, session: SessionDep, agent: CurrentAgent
) -> None:
    customer = await service.get_or_raise(session, customer_id, agent=agent)
    await service.remove_identity(session, customer, identity_id)
    await uow.commit(session)


@router.post("/customers/{customer_id}/merge", response_model=CustomerRead)
async def merge_customers(
    customer_id: Id, data: MergeRequest, session: SessionDep, agent: CurrentAgent
) -> CustomerRead:
    """Merge `other_id` into this customer; the caller must be able to see both."""
    keep = await service.get_or_raise(session, customer_id, agent=agent)
    other = await service.get_or_raise(session, data.other_id, agent=agent)
    await service.merge(session, keep, other, by=agent.id)
    await uow.commit(session)
    return await service.read(session, keep)


def attribute_filters(params: list[tuple[str, str]]) -> dict[str, str]:
    return {key[5:]: value for key, value in params if key.startswith("attr.") and value}


@router.get("/customers/{customer_id}/merges", response_model=list[MergeRead])
async def list_merges(customer_id: Id, session: SessionDep, agent: CurrentAgent) -> list[MergeRead]:
    """The merges into this customer, newest first, each with what it moved."""
    customer = await service.get_or_raise(session, customer_id, agent=agent)
    return [MergeRead.model_validate(row) for row in await service.merges(session, customer)]


@router.post("/customers/{customer_id}/split", response_model=CustomerRead, responses=errors(409))
async def split_merge(
    customer_id: Id, data: SplitRequest, session: SessionDep, agent: CurrentAgent
) -> CustomerRead:
    """Split one merge back: answers the customer that comes back."""
    keep = await service.get_or_raise(session, customer_id, agent=agent)
    other = await service.split(session, keep, data.merge_id, by=agent.id)
    await uow.commit(session)
    return await service.read(session, other)


@router.get("/customer-attributes", response_model=list[AttributeRead])
async def list_attributes(session: SessionDep, agent: CurrentAgent) -> list[AttributeRead]:
    return [AttributeRead.model_validate(row) for row in await attributes.definitions(session)]


@router.post(
    "/customer-attributes", response_model=AttributeRead, status_code=201, responses=errors(409)
)
async def create_attribute(
    data: AttributeCreate, session: SessionDep, admin: AdminAgent
) -> AttributeRead:
    definition = await attributes.create(session, data)
    await uow.commit(session)
    return AttributeRead.model_validate(definition)


@router.patch("/customer-attributes/{attribute_id}", response_model=AttributeRead)
async def update_attribute(
    attribute_id: Id, data: AttributeUpdate, session: SessionDep, admin: AdminAgent
) -> AttributeRead:
    definition = await attributes.get_or_raise(session, attribute_id)
    await attributes.update(session, definition, data)
    await uow.commit(session)
    return AttributeRead.model_validate(definition)


@router.delete("/customer-attributes/{attribute_id}", status_code=204)
async def delete_attribute(attribute_id: Id, session: SessionDep, admin: AdminAgent) -> None:
    await attributes.delete(session, await attributes.get_or_raise(session, attribute_id))
    await uow.commit(session)
