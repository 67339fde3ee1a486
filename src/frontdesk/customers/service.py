"""Customers and identities: resolve, add/remove identities, merge, timeline."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.auth.models import Agent
from frontdesk.conversations.models import Conversation, Message
from frontdesk.conversations.schemas import call_of
from frontdesk.customers import attributes, repository
from frontdesk.customers.models import (
    Customer,
    CustomerMerge,
    Identity,
    OptOut,
    customer_search_key,
)
from frontdesk.customers.schemas import (
    CustomerRead,
    CustomerUpdate,
    IdentityCreate,
    IdentityRead,
    TimelineItem,
)
from frontdesk.db import assign_ids, utcnow
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit.errors import Conflict, Invalid, NotFound
from frontdesk.kit.events import record
from frontdesk.kit.text import MAX_ADDRESS, classify_address, raw_address


@dataclass(frozen=True)
class IdentityRef:
    kind: str
    address: str
    name: str | None = None
    # The inbox the customer wrote to: whoever serves it sees the customer.created event.
    inbox_id: int | None = None


async def resolve(
    session: AsyncSession, *, kind: str, address: str, name: str | None, inbox_id: int | None = None
) -> tuple[Customer, Identity]:
    """Find the customer behind an identity, or create both (a unique index settles races)."""
    return (await resolve_many(session, [IdentityRef(kind, address, name, inbox_id)]))[0]


async def resolve_many(
    session: AsyncSession, refs: list[IdentityRef]
) -> list[tuple[Customer, Identity]]:
    """`resolve` for many identities with a fixed number of queries; the same address twice
    resolves to the same new customer."""
    pairs = await repository.find_identities_with_customers(
        session, {(ref.kind, ref.address) for ref in refs}
    )
    found = {key: identity for key, (identity, _) in pairs.items()}
    customers_by_id = {customer.id: customer for _, customer in pairs.values()}
    created: dict[tuple[str, str], tuple[Customer, IdentityRef]] = {}
    renamed: set[int] = set()
    for ref in refs:
        key = (ref.kind, ref.address)
        if key in found:
            customer = customers_by_id[found[key].customer_id]
            if ref.name and not customer.name:
                customer.name = ref.name
                renamed.add(customer.id)
        elif key not in created:
            # A new customer's key is known: its name and this one address (no statements
            # to read it back and update it).
            customer = Customer(
                name=ref.name,
                attributes={},
                search_key=customer_search_key(ref.name, [ref.address], {}),
            )
            created[key] = (customer, ref)
    if created:
        session.add_all(customer for customer, _ in created.values())
        await assign_ids(session, Customer)
        await session.flush()
        for key, (customer, ref) in created.items():
            found[key] = Identity(customer_id=customer.id, kind=ref.kind, address=ref.address)
            customers_by_id[customer.id] = customer
            session.add(found[key])
            record(
                session,
                "customer.created",
                {"customer_id": customer.id},
                customer_id=customer.id,
                inbox_id=ref.inbox_id,
            )
        await assign_ids(session, Identity)
        await session.flush()
    await repository.refresh_search_keys(session, renamed)
    return [
        (customers_by_id[found[(r.kind, r.address)].customer_id], found[(r.kind, r.address)])
        for r in refs
    ]


async def set_opt_out(
    session: AsyncSession,
    identity: Identity,
    *,
    scope: str,
    opted_out: bool,
    keyword: str,
    inbox_id: int | None = None,
    message_id: int | None = None,
) -> OptOut:
    """Record the customer's STOP (opted_out) or START for this identity on this medium; the
    latest word wins. Recorded as an event on the customer."""
    row = await repository.get_opt_out(session, identity.id, scope)
    if row is None:
        row = OptOut(identity_id=identity.id, scope=scope)
        session.add(row)
    row.opted_out = opted_out
    row.keyword = keyword[:40]
    row.inbox_id, row.message_id = inbox_id, message_id
    row.changed_at = utcnow()
    await session.flush()
    record(
        session,
        "customer.opted_out" if opted_out else "customer.opted_in",
        {"customer_id": identity.customer_id, "identity_id": identity.id, "scope": scope,
         "keyword": row.keyword},
        customer_id=identity.customer_id,
        inbox_id=inbox_id,
    )  # fmt: skip
    return row


async def opted_out(session: AsyncSession, *, kind: str, address: str, scope: str) -> OptOut | None:
    """The standing opt-out of this address on this medium, or None if it may be messaged."""
    identity = await repository.find_identity(session, kind, address)
    if identity is None:
        return None
    row = await repository.get_opt_out(session, identity.id, scope)
    return row if row is not None and row.opted_out else None


async def get_or_raise(session: AsyncSession, customer_id: int, *, agent: Agent) -> Customer:
    """The customer if this agent may see it, else NotFound (never a hint that it exists)."""
    customer = await repository.get_customer(session, customer_id)
    if customer is None:
        raise NotFound("customer not found")
    if customer.merged_into_id is not None:
        customer = await repository.get_customer(session, customer.merged_into_id)
        assert customer is not None
    inbox_ids = await visible_inbox_ids(session, agent)
    if inbox_ids is not None and not await repository.customer_visible(
        session, customer.id, inbox_ids
    ):
        raise NotFound("customer not found")
    return customer


async def of_visible_conversation(
    session: AsyncSession, conversation: Conversation, *, agent: Agent
) -> Customer:
    """The customer of a conversation the agent may see (checked by the caller), as
    `get_or_raise` finds them: that conversation is what makes them visible, so only a
    merged customer (their survivor) needs the check again."""
    customer = await repository.get_customer(session, conversation.customer_id)
    if customer is None or customer.merged_into_id is not None:
        return await get_or_raise(session, conversation.customer_id, agent=agent)
    return customer


async def find_by_identity(session: AsyncSession, address: str, *, agent: Agent) -> list[Customer]:
    """Customers with this exact address, normalised the way it was stored: as an e-mail or
    phone, a channel's own id (Telegram, Messenger, Instagram), or a raw sender address no
    rule could normalise — as far as the agent may see them."""
    identities: dict[int, Identity] = {}
    for kind, normalised in _lookup_keys(address):
        # E-mail and phone are unambiguous; a bare handle may exist on several channels.
        for identity in await repository.find_identities_by_address(
            session, normalised, kind=kind if kind != "handle" else None
        ):
            identities.setdefault(identity.id, identity)
    customers: list[Customer] = []
    for identity in identities.values():
        try:
            customers.append(await get_or_raise(session, identity.customer_id, agent=agent))
        except NotFound:
            continue
    return customers


def _lookup_keys(address: str) -> list[tuple[str, str]]:
    """The (kind, address) forms an address may be stored under: its normalised form (if it
    has one) and the raw form a channel keeps when it has none (e-mail senders)."""
    if not address.strip() or len(address) > MAX_ADDRESS:
        raise Invalid(f"not a valid address: {address!r}", code="invalid_address")
    keys = [raw_address(address)]
    with contextlib.suppress(Invalid):  # no normalised form: only the raw one
        keys.insert(0, classify_address(address, handle_kind="handle"))
    return keys


async def update_customer(
    session: AsyncSession, customer: Customer, data: CustomerUpdate
) -> Customer:
    """Rename a customer, replace attributes (admin-defined ones checked) or notes."""
    # Checked before anything changes: a refusal leaves the customer as it was.
    checked = (
        None if data.attributes is None else await attributes.checked(session, data.attributes)
    )
    if data.name is not None:
        customer.name = data.name
    if checked is not None:
        customer.attributes = checked
    if data.notes is not None:
        customer.notes = data.notes.strip()
    await session.flush()
    await repository.refresh_search_keys(session, [customer.id])
    record(session, "customer.updated", {"customer_id": customer.id}, customer_id=customer.id)
    return customer


async def add_identity(session: AsyncSession, customer: Customer, data: IdentityCreate) -> Identity:
    """Attach an address to a customer; an address belongs to one customer only. Another
    customer's address is refused with the same answer whoever owns it: the caller learns
    nothing about customers of inboxes they do not serve."""
    kind, address = classify_address(data.address, handle_kind=data.kind or "")
    if not kind:
        raise Invalid(
            "kind is required for addresses that are neither e-mail nor phone",
            code="invalid_address",
        )
    existing = await repository.find_identity(session, kind, address)
    if existing is not None:
        if existing.customer_id == customer.id:
            return existing
        raise Conflict("this address is not available", code="identity_taken")
    identity = Identity(customer_id=customer.id, kind=kind, address=address)
    session.add(identity)
    await session.flush()
    await repository.refresh_search_keys(session, [customer.id])
    record(
        session,
        "customer.identity_added",
        {"customer_id": customer.id, "identity_id": identity.id},
        customer_id=customer.id,
    )
    return identity


async def remove_identity(session: AsyncSession, customer: Customer, identity_id: int) -> None:
    """Detach an address (the messages it carried stay on the timeline)."""
    identity = await repository.get_identity(session, identity_id)
    if identity is None or identity.customer_id != customer.id:
        raise NotFound("identity not found")
    await session.delete(identity)
    await session.flush()
    await repository.refresh_search_keys(session, [customer.id])
    record(
        session,
        "customer.identity_removed",
        {"customer_id": customer.id, "identity_id": identity_id},
        customer_id=customer.id,
    )


async def merge(
    session: AsyncSession, keep: Customer, other: Customer, *, by: int | None = None
) -> Customer:
    """Move the other customer's identities, conversations and messages onto `keep` (`by`:
    the agent who merged them, shown in the activity of the customer's conversations)."""
    if keep.id == other.id:
        raise Invalid("cannot merge a customer into itself", code="same_customer")
    identity_ids, conversation_ids, redirected = await repository.merge_inventory(session, other.id)
    session.add(
        CustomerMerge(
            customer_id=keep.id, merged_id=other.id, identity_ids=identity_ids,
            conversation_ids=conversation_ids, redirected_ids=redirected,
            name_before=keep.name, attributes_before=dict(keep.attributes), by_agent_id=by,
        )
    )  # fmt: skip
    await repository.move_customer_rows(session, source=other.id, target=keep.id)
    keep.attributes = {**other.attributes, **keep.attributes}
    keep.name = keep.name or other.name
    other.merged_into_id = keep.id
    await session.flush()
    await repository.refresh_search_keys(session, [keep.id, other.id])
    record(
        session,
        "customer.merged",
        {"customer_id": keep.id, "merged_id": other.id, "by": by},
        customer_id=keep.id,
    )
    return keep


async def search(
    session: AsyncSession, *, agent: Agent, text: str, filters: dict[str, str],
    after: int | None, limit: int,
) -> list[Customer]:  # fmt: skip
    """Customers the agent may see matching `text` (name, any identity, any attribute value)
    and every attribute filter (key → value, admin-defined attributes only: text contains,
    others equal), newest first."""
    defined = {d.key: d for d in await attributes.definitions(session)}
    checked = []
    for key, value in filters.items():
        if key not in defined:
            raise Invalid(f"attr.{key}: no such attribute", code="invalid")
        stored = attributes.check_value(defined[key], value)
        checked.append((defined[key], stored if defined[key].kind != "text" else value))
    rows = await repository.search_customers(
        session, inbox_ids=await visible_inbox_ids(session, agent), text=text.strip()[:200],
        filters=checked, after=after, limit=limit,
    )  # fmt: skip
    return list(rows)


async def merges(session: AsyncSession, customer: Customer) -> list[CustomerMerge]:
    """The merges into this customer, newest first (split ones included)."""
    return list(await repository.list_merges(session, customer.id))


async def split(
    session: AsyncSession, keep: Customer, merge_id: int, *, by: int | None = None
) -> Customer:
    """Split a merge back: the merged customer comes back with the identities and
    conversations (and their messages) the merge moved, and the customers merged into it
    before; the attributes and name it brought leave the kept customer unless an agent has
    changed them since. Conversations started after the merge stay with the kept customer."""
    record_ = await repository.get_merge(session, merge_id)
    if record_ is None or record_.customer_id != keep.id:
        raise NotFound("merge not found")
    if record_.split_at is not None:
        raise Conflict("this merge was already split", code="already_split")
    other = await repository.get_customer(session, record_.merged_id)
    assert other is not None
    await repository.move_back(session, record_)
    other.merged_into_id = None
    brought = {
        key for key, value in other.attributes.items()
        if key not in record_.attributes_before and keep.attributes.get(key) == value
    }  # fmt: skip
    keep.attributes = {k: v for k, v in keep.attributes.items() if k not in brought}
    if record_.name_before is None and keep.name == other.name:
        keep.name = None
    record_.split_at = utcnow()
    await session.flush()
    await repository.refresh_search_keys(session, [keep.id, other.id])
    record(
        session,
        "customer.split",
        {"customer_id": keep.id, "split_id": other.id, "merge_id": record_.id, "by": by},
        customer_id=keep.id,
    )
    return other


async def read(session: AsyncSession, customer: Customer) -> CustomerRead:
    identities = await repository.identities_of(session, customer.id)
    return CustomerRead(
        id=customer.id,
        name=customer.name,
        attributes=customer.attributes,
        notes=customer.notes or "",
        identities=[IdentityRead.model_validate(item) for item in identities],
        created_at=customer.created_at,
    )


async def timeline(
    session: AsyncSession, customer: Customer, *, agent: Agent, after: int | None, limit: int
) -> list[TimelineItem]:
    """Every message of the customer on every channel the agent may see, oldest first."""
    inbox_ids = await visible_inbox_ids(session, agent)
    messages = await repository.timeline(
        session, customer.id, inbox_ids=inbox_ids, after=after, limit=limit
    )
    return [timeline_item(message) for message in messages]


def timeline_item(message: Message) -> TimelineItem:
    return TimelineItem(
        id=message.id,
        conversation_id=message.conversation_id,
        inbox_id=message.inbox_id,
        channel=message.channel,
        direction=message.direction,
        author_kind=message.author_kind,
        kind=message.kind,
        call=call_of(message.kind, message.meta),
        text=message.text,
        html=message.html,
        delivery_status=message.delivery_status,
        answered=message.answered if message.direction == "inbound" else None,
        created_at=message.created_at,
    )


async def set_identity_profile(
    session: AsyncSession, kind: str, address: str, *, name: str | None, picture_url: str | None
) -> Identity | None:
    """Cache what a provider says about one of its addresses (name, picture) on the identity;
    the customer takes the name if it has none."""
    identity = await repository.find_identity(session, kind, address)
    if identity is None:
        return None
    if name:
        identity.name = name[:200]
    if picture_url:
        identity.picture_url = picture_url[:1000]
    customer = await repository.get_customer(session, identity.customer_id)
    if customer is not None and name and not customer.name:
        customer.name = name[:200]
        await repository.refresh_search_keys(session, [customer.id])
    return identity
