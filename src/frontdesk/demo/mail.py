"""The demo's outbound mail sink (demo only): an SMTP server on loopback that the demo's
e-mail inbox uses as its relay. It keeps every mail it is given as a file under
DATA_DIR/demo/mail, and /demo/mail shows them (list and message, HTML sanitised), so a
newcomer sees the reply the customer would get."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from frontdesk.config import Settings
from frontdesk.demo.access import demo_only
from frontdesk.kit.errors import NotFound
from frontdesk.web.rendering import render, safe_html

log = logging.getLogger(__name__)
router = APIRouter(prefix="/demo", dependencies=[demo_only], include_in_schema=False)
NAME = re.compile(r"^\d{10,20}-[0-9a-f]{12}\.eml$")
MAX_MAIL_BYTES = 30 * 1024 * 1024
SHOWN = 200


def mail_dir(settings: Settings) -> Path:
    return settings.data_dir / "demo" / "mail"


class _Keep:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{secrets.token_hex(6)}.eml"
        spare = self.folder / (name + ".part")
        spare.write_bytes(data)
        spare.rename(self.folder / name)
        return "250 kept in the demo mail sink"


def keep(settings: Settings, message: EmailMessage) -> Path:
    """Put a mail Frontdesk itself sends (an agent's invitation) into the demo mailbox, as
    the sink would have kept it."""
    if message["Date"] is None:
        message["Date"] = formatdate(localtime=False)
    folder = mail_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}-{secrets.token_hex(6)}.eml"
    spare = folder / (name + ".part")
    spare.write_bytes(message.as_bytes(policy=policy.SMTP))
    spare.rename(folder / name)
    return folder / name


class MailSink:
    """The SMTP sink on 127.0.0.1:port (port 0: any free one; `port` tells which)."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.wanted = settings.demo_mail_port if port is None else port
        self.server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        handler = _Keep(mail_dir(self.settings))

        def protocol() -> SMTP:
            return SMTP(
                handler,
                data_size_limit=MAX_MAIL_BYTES,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname="demo-mail-sink.localhost",
                ident="Frontdesk demo mail sink",
            )

        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(protocol, host="127.0.0.1", port=self.wanted or 0)
        log.info("demo mail sink on 127.0.0.1:%s", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    @property
    def port(self) -> int:
        assert self.server is not None
        sockets: Any = self.server.sockets
        return int(sockets[0].getsockname()[1])


@dataclass
class Mail:
    name: str
    sender: str
    to: str
    subject: str
    date: datetime | None
    message: EmailMessage


def _read(path: Path) -> Mail:
    message: Any = message_from_bytes(path.read_bytes(), policy=policy.default)
    try:
        date = parsedate_to_datetime(str(message["Date"])) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    return Mail(
        path.name,
        str(message["From"] or ""),
        str(message["To"] or ""),
        str(message["Subject"] or ""),
        date,
        message,
    )


def kept_mail(settings: Settings) -> list[Mail]:
    """The newest mails first."""
    folder = mail_dir(settings)
    if not folder.is_dir():
        return []
    names = sorted((p for p in folder.iterdir() if NAME.match(p.name)), reverse=True)
    return [_read(path) for path in names[:SHOWN]]


def _bodies(message: EmailMessage) -> tuple[str | None, str]:
    html = message.get_body(preferencelist=("html",))
    text = message.get_body(preferencelist=("plain",))
    return (
        html.get_content() if html is not None else None,
        text.get_content() if text is not None else "",
    )


def _files(message: EmailMessage) -> list[str]:
    return [part.get_filename() or "file" for part in message.iter_attachments()]


@router.get("/mail", response_class=HTMLResponse)
async def mail_list(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.runtime.settings
    return render(request, "demo_mail.html", {"mails": kept_mail(settings), "mail": None})


@router.get("/mail/{name}", response_class=HTMLResponse)
async def mail_view(name: str, request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.runtime.settings
    path = mail_dir(settings) / name
    if not NAME.match(name) or not path.is_file():
        raise NotFound("no such mail")
    mail = _read(path)
    html, text = _bodies(mail.message)
    context = {
        "mails": kept_mail(settings), "mail": mail, "html": safe_html(html) if html else None,
        "text": text, "files": _files(mail.message),
    }  # fmt: skip
    return render(request, "demo_mail.html", context)
