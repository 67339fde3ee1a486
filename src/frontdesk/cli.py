"""frontdesk demo | serve | worker | migrate | seed | admin create | token create | simulate |
staffing | kb | analytics"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
import uvicorn

from frontdesk.config import EXAMPLE_SECRET, InsecureSettings, Settings, demo_secret

if TYPE_CHECKING:
    from frontdesk.runtime import Runtime

# Sans-I/O websockets without per-message compression: ~21 KB per open socket instead of
# ~156 KB with uvicorn's defaults (measured; thousands of idle chat visitors are the common
# case, and chat frames are too small for compression to pay off), trimmed by a further ~5 KB
# (kit/websocket.py).
WS_OPTIONS: dict[str, Any] = {
    "ws": "frontdesk.kit.websocket:LeanWebSocketProtocol",
    "ws_per_message_deflate": False,
}

app = typer.Typer(help="Frontdesk: omnichannel customer service.", no_args_is_help=True)
admin_app = typer.Typer(help="Manage admin agents.")
token_app = typer.Typer(help="Manage API tokens.")
kb_app = typer.Typer(help="Knowledge base: import and export articles.")
app.add_typer(admin_app, name="admin")
app.add_typer(token_app, name="token")
app.add_typer(kb_app, name="kb")
analytics_app = typer.Typer(help="Report rollups.")
app.add_typer(analytics_app, name="analytics")


def _build_runtime(settings: Settings, *, with_runner: bool) -> Runtime:
    """The process runtime with every job handler and installed channel loaded."""
    import frontdesk.handlers  # noqa: F401
    from frontdesk.runtime import Runtime

    return Runtime.build(settings, with_runner=with_runner)


def _settings(**overrides: Any) -> Settings:
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    return settings


def _production(settings: Settings) -> None:
    try:
        settings.check_production()
    except InsecureSettings as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request line at INFO, and some providers put the credential in the
    # URL (Telegram: /bot<token>/sendMessage): a log line must never carry a secret.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
    data_dir: Path = typer.Option(Path(".frontdesk"), "--data-dir"),
    smtp_port: int = typer.Option(
        2525, "--smtp-port", help="Inbound SMTP listener of the e-mail channel (0: off)."
    ),
    mail_sink_port: int = typer.Option(
        0, "--mail-sink-port", help="Loopback port of the outbound mail sink (0: any free one)."
    ),
) -> None:
    """Everything in one process on SQLite, with a seeded demo organisation."""
    from frontdesk.app import create_app
    from frontdesk.migrate import upgrade
    from frontdesk.seed import seed

    _logging()
    settings = _settings(
        env="development",
        data_dir=data_dir,
        base_url=f"http://{host}:{port}",
        smtp_port=smtp_port or None,
        allow_private_webhooks=True,
        demo_mail_port=mail_sink_port or _free_port(host="127.0.0.1"),
    )
    if settings.secret_key == EXAMPLE_SECRET:  # FRONTDESK_SECRET_KEY, when set, wins
        settings.secret_key = demo_secret(settings.data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    runtime = _build_runtime(settings, with_runner=True)
    seeded = asyncio.run(_seed(runtime, seed))
    runtime = _build_runtime(settings, with_runner=True)
    typer.echo(f"URL: http://{host}:{port}/")
    typer.echo(f"API token: {seeded.token}")
    for email, password in seeded.logins:
        typer.echo(f"Login: {email} {password}")
    sys.stdout.flush()
    uvicorn.run(
        create_app(settings, runtime=None), host=host, port=port, log_level="warning", **WS_OPTIONS
    )


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def _seed(runtime: Any, seed: Any) -> Any:
    try:
        return await seed(runtime)
    finally:
        await runtime.db.dispose()


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = typer.Option(1, "--workers", help="Server processes sharing the port."),
) -> None:
    """Serve web, API and websockets (and run jobs unless FRONTDESK_EMBEDDED_WORKER=false)."""
    _logging()
    settings = _settings()
    _production(settings)
    if workers > 1 and not settings.redis_url:
        typer.echo(
            "error: --workers > 1 needs FRONTDESK_REDIS_URL (events cross processes)", err=True
        )
        raise typer.Exit(2)
    uvicorn.run(
        "frontdesk.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        **WS_OPTIONS,
    )


@app.command()
def worker() -> None:
    """Run jobs and schedules; start as many as you need against one database."""

    _logging()
    settings = _settings()
    _production(settings)

    async def run() -> None:
        from frontdesk.kit import gcfreeze

        runtime = _build_runtime(settings, with_runner=True)
        await runtime.start()  # the job runner, the IMAP pollers (and SMTP if configured)
        if settings.gc_freeze_seconds > 0:
            gcfreeze.settle()  # everything the worker keeps is loaded (kit/gcfreeze.py)
        assert runtime.runner is not None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        typer.echo(f"worker {runtime.runner.name} started", err=True)
        await stop.wait()
        await runtime.stop()

    _run_loop(run())


def _run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived process's loop on uvloop when it is installed (as uvicorn runs
    `serve`'s: the same loop for the same code; its sockets cost less CPU per call)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it on Linux and macOS
        asyncio.run(main)
    else:
        uvloop.run(main)


@app.command()
def migrate() -> None:
    """Apply database migrations (safe to run from several processes at once)."""
    from frontdesk.migrate import upgrade

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    typer.echo("migrated")


@app.command("seed")
def seed_command() -> None:
    """Load the demo organisation into the configured database."""
    from frontdesk.seed import seed

    settings = _settings()
    runtime = _build_runtime(settings, with_runner=False)
    seeded = asyncio.run(_seed(runtime, seed))
    typer.echo(f"API token: {seeded.token}")
    for email, password in seeded.logins:
        typer.echo(f"Login: {email} {password}")


@admin_app.command("create")
def admin_create(
    email: str = typer.Option(..., "--email"),
    password: str = typer.Option(None, "--password", help="Generated and printed when omitted."),
    name: str = typer.Option("Administrator", "--name"),
) -> None:
    """Create an admin agent."""
    import secrets

    from frontdesk.auth import service
    from frontdesk.auth.schemas import AgentCreate
    from frontdesk.kit import uow

    settings = _settings()
    chosen = password or secrets.token_urlsafe(12)

    async def run() -> None:
        runtime = _build_runtime(settings, with_runner=False)
        try:
            async with runtime.db.session() as session:
                await service.create_agent(
                    session,
                    AgentCreate(email=email, name=name, password=chosen, role="admin"),
                    cost=settings.password_cost,
                )
                await uow.commit(session)
        finally:
            await runtime.db.dispose()

    asyncio.run(run())
    typer.echo(f"Login: {email.strip().lower()} {chosen}" if not password else f"created {email}")


@token_app.command("create")
def token_create(agent: str = typer.Option(..., "--agent"), name: str = "cli") -> None:
    """Print a new bearer token for an agent."""
    from frontdesk.auth import repository, service
    from frontdesk.kit import uow

    settings = _settings()

    async def run() -> str:
        runtime = _build_runtime(settings, with_runner=False)
        try:
            async with runtime.db.session() as session:
                found = await repository.get_agent_by_email(session, agent)
                if found is None:
                    typer.echo(f"error: no agent with e-mail {agent}", err=True)
                    raise typer.Exit(1)
                token = await service.issue_token(session, found, name=name)
                await uow.commit(session)
                return token
        finally:
            await runtime.db.dispose()

    typer.echo(asyncio.run(run()))


@app.command()
def simulate(
    arrivals_per_hour: float = typer.Option(None, "--arrivals-per-hour", min=0.001),
    aht: float = typer.Option(None, "--aht", min=0.001, help="Mean handling time, seconds."),
    agents: int = typer.Option(None, "--agents", min=1),
    threshold: float = typer.Option(20.0, "--threshold", min=0, help="Service-level seconds."),
    hours: float = typer.Option(None, "--hours", min=0.001, help="Simulated, not wall, hours."),
    seed: int = typer.Option(None, "--seed"),
    patience: float = typer.Option(None, "--patience", min=0.001, help="Mean patience, seconds."),
    scenario: Path = typer.Option(
        None,
        "--scenario",
        dir_okay=False,
        help="A multi-skill scenario (JSON); see docs/routing.md.",
    ),
    as_table: bool = typer.Option(
        False, "--table", help="With --scenario: the comparison as a Markdown table."
    ),
) -> None:
    """Simulate through the real router; print service level, ASA, abandon, occupancy.

    One queue (--arrivals-per-hour --aht --agents), or a multi-skill --scenario FILE.json
    compared with the longest-idle, static skill priority and SLA-urgency baselines."""
    if scenario is not None:
        from frontdesk.routing.scenario import ScenarioError, compare, load, table

        try:
            found = compare(load(scenario), hours=hours, seed=seed)
        except ScenarioError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        typer.echo(table(found) if as_table else json.dumps(found))
        return
    if arrivals_per_hour is None or aht is None or agents is None:
        typer.echo("error: give --arrivals-per-hour, --aht and --agents, or --scenario", err=True)
        raise typer.Exit(2)
    from frontdesk.routing.simulator import Simulation

    simulation = Simulation(
        arrivals_per_hour, aht, agents, threshold, 2000.0 if hours is None else hours,
        1 if seed is None else seed, patience,
    )  # fmt: skip
    typer.echo(json.dumps(simulation.run().as_dict()))


@app.command()
def staffing(
    arrivals_per_hour: float = typer.Option(..., "--arrivals-per-hour", min=0.001),
    aht: float = typer.Option(..., "--aht", min=0.001),
    threshold: float = typer.Option(20.0, "--threshold", min=0),
    target: float = typer.Option(0.8, "--target", min=0.0, max=0.9999),
    patience: float = typer.Option(None, "--patience", min=0.001),
    shrinkage: float = typer.Option(0.0, "--shrinkage", min=0.0, max=0.99),
) -> None:
    """The fewest agents meeting the target (Erlang C, or Erlang A with --patience)."""
    from frontdesk.analytics.staffing import staffing as needed

    found = needed(
        arrivals_per_hour=arrivals_per_hour,
        aht=aht,
        threshold=threshold,
        target=target,
        patience=patience,
        shrinkage=shrinkage,
    )
    typer.echo(json.dumps(found.as_dict()))


@kb_app.command("import")
def kb_import(path: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Create an article per line of a JSON Lines file (all or nothing)."""
    from frontdesk.kit import uow
    from frontdesk.kit.errors import Invalid
    from frontdesk.knowledge.transfer import import_lines

    settings = _settings()

    async def run() -> int:
        runtime = _build_runtime(settings, with_runner=False)
        try:
            async with runtime.db.session() as session:
                with path.open(encoding="utf-8") as lines:
                    created = await import_lines(session, lines)
                await uow.commit(session)
                return created
        finally:
            await runtime.db.dispose()

    try:
        created = asyncio.run(run())
    except Invalid as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"imported {created} articles")


@kb_app.command("export")
def kb_export() -> None:
    """Print every article as JSON Lines (importable with `kb import`)."""
    from frontdesk.knowledge.transfer import export_lines

    settings = _settings()

    async def run() -> None:
        runtime = _build_runtime(settings, with_runner=False)
        try:
            async with runtime.db.session() as session:
                async for line in export_lines(session):
                    typer.echo(line)
        finally:
            await runtime.db.dispose()

    asyncio.run(run())


@analytics_app.command("backfill")
def analytics_backfill() -> None:
    """Rebuild the report rollups from the whole event log, with a progress bar."""
    import time

    from frontdesk.analytics.service import backfill

    settings = _settings()

    async def run() -> int:
        runtime = _build_runtime(settings, with_runner=False)
        with typer.progressbar(length=1, label="events", file=sys.stderr) as bar:
            shown = 0

            def progress(done: int, total: int) -> None:
                nonlocal shown
                bar.length = max(total, 1)
                bar.update(done - shown)
                shown = done

            try:
                return await backfill(runtime.db, progress=progress)
            finally:
                await runtime.db.dispose()

    started = time.perf_counter()
    folded = asyncio.run(run())
    typer.echo(f"rebuilt the rollups from {folded} events in {time.perf_counter() - started:.1f} s")


def main() -> None:
    app()
