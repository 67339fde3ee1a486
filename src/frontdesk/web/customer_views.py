"""Customers in the desktop: the directory (search by name, any identity or attribute value,
filters on admin-defined attributes, pages of 50), the customer page (name, attributes and
notes editable; identities added and removed; merge and split back), the customer panel's
attribute list, and Settings -> Customer attributes (admins). Every read goes through
`customers.get_or_raise` or the visibility-filtered search, so an agent sees exactly the
customers the API shows them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.analytics.journey import journey
from frontdesk.auth.models import Agent
from frontdesk.customers import attributes, repository
from frontdesk.customers import service as customers
from frontdesk.customers.models import ATTRIBUTE_KINDS, AttributeDefinition, Customer
from frontdesk.customers.schemas import (
    AttributeCreate,
    AttributeUpdate,
    CustomerUpdate,
    IdentityCreate,
)
from frontdesk.db import utcnow
from frontdesk.deps import SessionDep
from frontdesk.desk import repository as desk_repository
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.service import visible_inbox_ids
from frontdesk.kit import uow
from frontdesk.kit.errors import FrontdeskError, NotFound
from frontdesk.kit.pagination import decode_cursor, encode_cursor
from frontdesk.kit.schemas import MAX_ID, Id
from frontdesk.web.journey_chart import journey_chart
from frontdesk.web.people_text import ATTRIBUTE_KINDS as KIND_NAMES
from frontdesk.web.people_text import IDENTITY_KINDS, PEOPLE_ERRORS, error_code
from frontdesk.web.rendering import PageAgent, checked_form, refused, render
from frontdesk.web.settings_text import CHANNEL_NAMES
from frontdesk.web.settings_views import AdminPage

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_QUERY = 200


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "invalid"
    return error_code(getattr(exc, "code", None))


# -- The directory ----------------------------------------------------------------------


@router.get("/customers", response_class=HTMLResponse)
async def directory(request: Request, session: SessionDep, agent: PageAgent) -> HTMLResponse:
    params = request.query_params
    text = (params.get("q") or "").strip()[:MAX_QUERY]
    defined = await attributes.definitions(session)
    filters = {
        d.key: params[f"attr.{d.key}"].strip()[:MAX_QUERY]
        for d in defined
        if params.get(f"attr.{d.key}", "").strip()
    }
    problem = None
    try:
        rows = await customers.search(
            session, agent=agent, text=text, filters=filters,
            after=decode_cursor(params.get("cursor")), limit=PAGE_SIZE,
        )  # fmt: skip
    except FrontdeskError as exc:
        rows, problem = [], _problem(exc)
    identities = await repository.identities_of_many(session, [c.id for c in rows])
    kept = {"q": text, **{f"attr.{k}": v for k, v in filters.items()}}
    more = None
    if len(rows) == PAGE_SIZE:
        more = "/customers?" + urlencode({**kept, "cursor": encode_cursor(rows[-1].id)})
    context = {
        "rows": rows,
        "identities": identities,
        "definitions": defined,
        "kind_names": KIND_NAMES,
        "q": text,
        "filters": filters,
        "more": more,
        "searched": bool(text or filters),
        "problem": problem,
        "errors_text": PEOPLE_ERRORS,
    }
    status = 422 if problem else 200
    return render(request, "customers.html", context, agent=agent, status=status)


# -- The customer page ------------------------------------------------------------------


@router.get("/customers/{customer_id}", response_class=HTMLResponse)
async def customer_page(
    request: Request, customer_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    customer = await customers.get_or_raise(session, customer_id, agent=agent)
    params = request.query_params
    return await _customer_page(
        request, session, agent, customer,
        problem=error_code(params["error"]) if params.get("error") else None,
        notice=params.get("done"),
    )  # fmt: skip


async def _customer_page(
    request: Request, session: AsyncSession, agent: Agent, customer: Customer, *,
    status: int = 200, **extra: Any,
) -> HTMLResponse:  # fmt: skip
    visible = await visible_inbox_ids(session, agent)
    timeline = await customers.timeline(session, customer, agent=agent, after=None, limit=500)
    inboxes = {
        i.id: i
        for i in await inboxes_repository.list_inboxes(session, only=visible, after=None, limit=500)
    }
    defined = await attributes.definitions(session)
    merges = await customers.merges(session, customer)
    merged = await repository.get_customers(session, {m.merged_id for m in merges})
    context = {
        "customer": await customers.read(session, customer),
        "timeline": timeline,
        "past": await desk_repository.conversations_of_customer(
            session, customer.id, visible=visible
        ),
        "inboxes": inboxes,
        "journey": journey_chart(
            await journey(session, customer.id, visible=visible), lang=agent.language, now=utcnow()
        ),
        "definitions": defined,
        "attribute_labels": {d.key: d.label for d in defined},
        "free_attributes": {
            k: v for k, v in customer.attributes.items() if k not in {d.key for d in defined}
        },
        "kind_names": KIND_NAMES,
        "merges": merges,
        "merged": merged,
        "identity_kinds": IDENTITY_KINDS,
        "channel_names": CHANNEL_NAMES,
        "errors_text": PEOPLE_ERRORS,
        **extra,
    }
    return render(request, "customer.html", context, agent=agent, status=status)


@router.post("/customers/{customer_id}", response_class=HTMLResponse)
async def save_customer(
    request: Request, customer_id: Id, session: SessionDep, agent: PageAgent
) -> Response:
    """Name, notes and attributes: the defined ones by their kind, the free ones as text (an
    empty value removes it), and one new free attribute."""
    form = await checked_form(request)
    customer = await customers.get_or_raise(session, customer_id, agent=agent)
    values: dict[str, Any] = dict(customer.attributes)
    for definition in await attributes.definitions(session):
        if f"a.{definition.key}" in form:
            values[definition.key] = str(form.get(f"a.{definition.key}") or "")
    for key in list(values):
        if f"f.{key}" in form:
            value = str(form.get(f"f.{key}") or "").strip()
            values[key] = value
            if not value:
                del values[key]
    new_key = str(form.get("new_key") or "").strip()[:60]
    if new_key and str(form.get("new_value") or "").strip():
        values[new_key] = str(form.get("new_value")).strip()[:500]
    try:
        data = CustomerUpdate(
            name=str(form.get("name") or "").strip() or None,
            notes=str(form.get("notes") or ""),
            attributes=values,
        )
        await customers.update_customer(session, customer, data)
    except (ValidationError, FrontdeskError) as exc:
        await refused(session, agent)
        customer = await customers.get_or_raise(session, customer_id, agent=agent)
        return await _customer_page(
            request, session, agent, customer, problem=_problem(exc),
            problem_detail=_detail(exc), status=422,
        )  # fmt: skip
    await uow.commit(session)
    return RedirectResponse(f"/customers/{customer.id}?done=saved", status_code=303)


def _detail(exc: Exception) -> str | None:
    """The attribute a refusal names (its key), so the page can point at it."""
    details = getattr(exc, "details", None) or []
    for detail in details:
        loc = [str(part) for part in detail.get("loc", ())]
        if len(loc) >= 2 and loc[0] == "attributes":
            return loc[1]
    return None


@router.post("/customers/{customer_id}/identities")
async def add_identity(
    request: Request, customer_id: Id, session: SessionDep, agent: PageAgent
) -> Response:
    form = await checked_form(request)
    customer = await customers.get_or_raise(session, customer_id, agent=agent)
    try:
        data = IdentityCreate(
            address=str(form.get("address") or "").strip(),
            kind=str(form.get("kind") or "").strip() or None,
        )
        await customers.add_identity(session, customer, data)
    except (ValidationError, FrontdeskError) as exc:
        return _back(customer.id, error=_problem(exc))
    await uow.commit(session)
    return _back(customer.id, done="identity_added")


@router.post("/customers/{customer_id}/identities/{identity_id}/remove")
async def remove_identity(
    request: Request, customer_id: Id, identity_id: Id, session: SessionDep, agent: PageAgent
) -> Response:
    await checked_form(request)
    customer = await customers.get_or_raise(session, customer_id, agent=agent)
    await customers.remove_identity(session, customer, identity_id)
    await uow.commit(session)
    return _back(customer.id, done="identity_removed")


@router.post("/customers/{customer_id}/merge")
async def merge_form(
    request: Request, customer_id: Id, session: SessionDep, agent: PageAgent
) -> Response:
    """Merge another customer (by id or by one of their addresses) into this one."""
    form = await checked_form(request)
    other = str(form.get("other") or "").strip()
    keep = await customers.get_or_raise(session, customer_id, agent=agent)
    try:
        if other.isdigit() and int(other) <= MAX_ID:
            found = [await customers.get_or_raise(session, int(other), agent=agent)]
        else:
            found = await customers.find_by_identity(session, other, agent=agent)
        if not found:
            raise NotFound("no such customer", code="not_found")
        await customers.merge(session, keep, found[0], by=agent.id)
    except FrontdeskError as exc:
        return _back(keep.id, error=exc.code)
    await uow.commit(session)
    return RedirectResponse(f"/customers/{keep.id}", status_code=303)


@router.post("/customers/{customer_id}/split")
async def split_form(
    request: Request, customer_id: Id, session: SessionDep, agent: PageAgent
) -> Response:
    """Split a merge back; the page of the customer that comes back opens."""
    form = await checked_form(request)
    keep = await customers.get_or_raise(session, customer_id, agent=agent)
    merge_id = str(form.get("merge_id") or "")
    try:
        if not merge_id.isdigit() or int(merge_id) > MAX_ID:
            raise NotFound("merge not found", code="not_found")
        other = await customers.split(session, keep, int(merge_id), by=agent.id)
    except FrontdeskError as exc:
        return _back(keep.id, error=exc.code)
    await uow.commit(session)
    return _back(other.id, done="split")


@router.get("/customers/{customer_id}/attributes", response_class=HTMLResponse)
async def attributes_panel(
    request: Request, customer_id: Id, session: SessionDep, agent: PageAgent
) -> HTMLResponse:
    """The customer panel's attributes, with the labels admins gave them (htmx fragment)."""
    customer = await customers.get_or_raise(session, customer_id, agent=agent)
    defined = await attributes.definitions(session)
    context = {"customer": customer, "attribute_labels": {d.key: d.label for d in defined},
               "definitions": defined}  # fmt: skip
    return render(request, "_customer_attributes.html", context, agent=agent)


def _back(customer_id: int, **query: str) -> RedirectResponse:
    return RedirectResponse(f"/customers/{customer_id}?{urlencode(query)}", status_code=303)


# -- Settings -> Customer attributes ----------------------------------------------------


@router.get("/settings/customer-attributes", response_class=HTMLResponse)
async def attributes_page(request: Request, session: SessionDep, admin: AdminPage) -> HTMLResponse:
    return await _attributes_page(request, session, admin, notice=request.query_params.get("done"))


@router.post("/settings/customer-attributes", response_class=HTMLResponse)
async def create_attribute(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await checked_form(request)
    values = {
        "key": str(form.get("key") or "").strip(),
        "label": str(form.get("label") or "").strip(),
        "kind": str(form.get("kind") or ""),
        "options": _lines(str(form.get("options") or "")),
    }
    try:
        await attributes.create(session, AttributeCreate.model_validate(values))
    except (ValidationError, FrontdeskError) as exc:
        await refused(session, admin)
        return await _attributes_page(
            request, session, admin, problem=_problem(exc), form=values, status=422
        )
    await uow.commit(session)
    return RedirectResponse("/settings/customer-attributes?done=created", status_code=303)


@router.post("/settings/customer-attributes/{attribute_id}", response_class=HTMLResponse)
async def update_attribute(
    request: Request, attribute_id: Id, session: SessionDep, admin: AdminPage
) -> Response:
    form = await checked_form(request)
    definition = await attributes.get_or_raise(session, attribute_id)
    try:
        if form.get("action") == "delete":
            await attributes.delete(session, definition)
        else:
            data = AttributeUpdate(
                label=str(form.get("label") or "").strip(),
                options=_lines(str(form.get("options") or "")),
            )
            await attributes.update(session, definition, data)
    except (ValidationError, FrontdeskError) as exc:
        await refused(session, admin)
        return await _attributes_page(request, session, admin, problem=_problem(exc), status=422)
    await uow.commit(session)
    return RedirectResponse("/settings/customer-attributes?done=saved", status_code=303)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()][:100]


async def _attributes_page(
    request: Request, session: AsyncSession, admin: Agent, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    defined: list[AttributeDefinition] = await attributes.definitions(session)
    context = {
        "definitions": defined,
        "kinds": ATTRIBUTE_KINDS,
        "kind_names": KIND_NAMES,
        "errors_text": PEOPLE_ERRORS,
        "form": {},
        **extra,
    }
    return render(request, "settings_customer_attributes.html", context, agent=admin,
                  status=status)  # fmt: skip
