"""The template registry of an inbox: what a channel with `Capabilities.templates` may send
outside its reply window. Admins keep it; agents pick from it; `reply` checks against it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from frontdesk.inboxes import repository
from frontdesk.inboxes.models import Inbox, InboxTemplate
from frontdesk.inboxes.port import adapter_for
from frontdesk.inboxes.schemas import TemplateCreate, TemplateRead, TemplateUpdate
from frontdesk.kit.errors import Conflict, Invalid, NotFound
from frontdesk.kit.events import record

_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def parameter_count(body: str) -> int:
    """How many parameters a body takes: its highest {{n}}."""
    return max((int(n) for n in _PLACEHOLDER.findall(body)), default=0)


def render(body: str, parameters: Sequence[str]) -> str:
    """The body as the customer will read it, each {{n}} replaced by parameter n."""
    return _PLACEHOLDER.sub(lambda m: parameters[int(m.group(1)) - 1], body)


def read(template: InboxTemplate) -> TemplateRead:
    return TemplateRead(
        id=template.id,
        inbox_id=template.inbox_id,
        name=template.name,
        language=template.language,
        category=template.category,
        status=template.status,
        body=template.body,
        parameters=parameter_count(template.body),
        components=template.components,
        created_at=template.created_at,
    )


def _check_channel(inbox: Inbox) -> None:
    if not adapter_for(inbox.channel).capabilities.templates:
        raise Invalid(f"{inbox.channel!r} inboxes take no templates", code="templates_unsupported")


async def create_template(
    session: AsyncSession, inbox: Inbox, data: TemplateCreate
) -> InboxTemplate:
    """Register a template the provider approved (or is reviewing) for this inbox."""
    _check_channel(inbox)
    existing = await repository.find_template(
        session, inbox.id, name=data.name, language=data.language
    )
    if existing is not None:
        raise Conflict(
            f"template {data.name!r} in {data.language!r} already exists", code="duplicate"
        )
    template = InboxTemplate(inbox_id=inbox.id, **data.model_dump())
    session.add(template)
    await session.flush()
    record(session, "inbox.template_created", {"inbox_id": inbox.id, "template_id": template.id})
    return template


async def update_template(
    session: AsyncSession, template: InboxTemplate, data: TemplateUpdate
) -> InboxTemplate:
    for key, value in data.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(template, key, value)
    await session.flush()
    return template


async def delete_template(session: AsyncSession, template: InboxTemplate) -> None:
    await session.delete(template)
    await session.flush()


async def get_template_or_raise(
    session: AsyncSession, inbox: Inbox, template_id: int
) -> InboxTemplate:
    template = await repository.get_template(session, template_id)
    if template is None or template.inbox_id != inbox.id:
        raise NotFound("template not found")
    return template


async def approved(
    session: AsyncSession, inbox: Inbox, *, name: str, language: str, parameters: Sequence[str]
) -> InboxTemplate:
    """The approved template an agent asked for, with the right number of parameters."""
    _check_channel(inbox)
    template = await repository.find_template(session, inbox.id, name=name, language=language)
    if template is None:
        raise Invalid(
            f"this inbox has no template {name!r} in {language!r}", code="unknown_template"
        )
    if template.status != "approved":
        raise Invalid(
            f"template {name!r} is {template.status}, not approved", code="template_not_approved"
        )
    wanted = parameter_count(template.body)
    if len(parameters) != wanted:
        raise Invalid(
            f"template {name!r} takes {wanted} parameters, got {len(parameters)}",
            code="template_parameters",
        )
    return template
