"""The CTI channel's job: click-to-call through the PBX (AMI Action: Originate). A short AMI
session of its own, so any process that runs jobs can place the call: the agent's phone
rings first, and when they pick up the PBX dials the customer in the inbox's context."""

from __future__ import annotations

from typing import Any

from frontdesk.channels.cti.adapter import settings_of
from frontdesk.channels.cti.ami import AmiConnection, AmiError
from frontdesk.inboxes import repository as inboxes_repository
from frontdesk.inboxes.secrets import opened_inbox
from frontdesk.kit.jobs import JobContext, PermanentJobError, handler

ORIGINATE_JOB = "cti.originate"


@handler(ORIGINATE_JOB, transactional=False)
async def originate(ctx: JobContext, payload: dict[str, Any]) -> None:
    async with ctx.db.session() as session:
        inbox = await inboxes_repository.get_inbox(session, int(payload["inbox_id"]))
        await session.commit()
    if inbox is None or not inbox.active:
        raise PermanentJobError("the inbox is gone")
    conf = settings_of(opened_inbox(inbox, ctx.settings))
    if not conf.ami_host:
        raise PermanentJobError("the inbox has no AMI connection")
    extension, number = str(payload["extension"]), str(payload["number"])
    connection = await AmiConnection.open(
        conf.ami_host, conf.ami_port, username=conf.ami_username or "",
        secret=conf.ami_secret or "", timeout=ctx.settings.webhook_timeout_seconds,
    )  # fmt: skip
    try:
        answer = await connection.action(
            {
                "Action": "Originate",
                "Channel": conf.ami_channel.replace("{extension}", extension),
                "Exten": number,
                "Context": conf.ami_context,
                "Priority": "1",
                "CallerID": f"<{number}>",
                "Timeout": "30000",
                "Async": "true",
            }
        )
        if answer.get("Response") != "Success":
            raise AmiError(f"Originate refused: {answer.get('Message', '')}")
        await connection.action({"Action": "Logoff"})
    finally:
        await connection.close()
