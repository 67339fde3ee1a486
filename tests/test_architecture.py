"""The one-way flow (ADR 0006): the inbox port sits below conversations and imports no
channel; channels plug in through the registry and never import each other; no import cycle.
These read the source, so a new module or channel is checked the day it is added."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import frontdesk
from frontdesk import channels
from frontdesk.inboxes.port import channel_plugins

SRC = Path(frontdesk.__file__).parent
# What sits above the inbox port: it may import none of these.
ABOVE_INBOXES = (
    "frontdesk.channels", "frontdesk.conversations", "frontdesk.customers", "frontdesk.desk",
    "frontdesk.routing", "frontdesk.web", "frontdesk.realtime", "frontdesk.runtime",
    "frontdesk.handlers", "frontdesk.app", "frontdesk.cli", "frontdesk.seed",
)  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, *, top_level_only: bool = False) -> Iterator[str]:
    """Every frontdesk module or name `path` imports; with top_level_only, just those that
    run when the module is imported (not inside functions or `if TYPE_CHECKING:`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _top_level(tree.body) if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("frontdesk"):
                yield node.module
                yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("frontdesk"))


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for node in body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.If | ast.Try):
            yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        yield node


def sources() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def concrete_channel(name: str) -> str | None:
    """`email` for frontdesk.channels.email.*, None for anything else (the channels package
    and its shared modules included)."""
    parts = name.split(".")
    if len(parts) >= 3 and parts[:2] == ["frontdesk", "channels"]:
        package = SRC / "channels" / parts[2]
        return parts[2] if package.is_dir() else None
    return None


class TestInboxPort:
    def test_imports_nothing_above_it(self):
        wrong = [
            (module, target)
            for module, path in sources().items()
            if within(module, "frontdesk.inboxes")
            for target in imports(path)
            if any(within(target, above) for above in ABOVE_INBOXES)
        ]
        assert wrong == []


class TestChannels:
    def test_only_channels_import_a_channel(self):
        wrong = [
            (module, target)
            for module, path in sources().items()
            if not within(module, "frontdesk.channels")
            for target in imports(path)
            if concrete_channel(target) is not None
        ]
        assert wrong == []

    def test_no_channel_imports_another(self):
        wrong = [
            (module, target)
            for module, path in sources().items()
            if (own := concrete_channel(module)) is not None
            for target in imports(path)
            if concrete_channel(target) not in (None, own)
        ]
        assert wrong == []

    def test_every_channel_package_is_installed_and_registered(self):
        packages = {
            info.name for info in pkgutil.iter_modules([str(SRC / "channels")]) if info.ispkg
        }
        assert packages == {channels.package_of(name) for name in channels.INSTALLED}
        channels.load()
        assert [plugin.name for plugin in channel_plugins()] == list(channels.INSTALLED)
        for plugin in channel_plugins():
            # A package registers only the channels INSTALLED lists under it.
            assert concrete_channel(type(plugin.adapter).__module__) == channels.package_of(
                plugin.name
            ), plugin.name

    def test_the_runtime_runs_channels_through_the_registry(self):
        for target in imports(SRC / "runtime.py"):
            assert not within(target, "frontdesk.channels"), target
            assert not within(target, "frontdesk.handlers"), target


class TestImportCycles:
    def test_no_module_imports_itself_through_others(self):
        graph: dict[str, set[str]] = {}
        known = sources()
        for module, path in known.items():
            graph[module] = {
                target for target in imports(path, top_level_only=True) if target in known
            } - {module}
        assert _cycles(graph) == []

    def test_every_module_imports(self):
        # No module is left behind by a move (this process has most of them loaded already,
        # so this is no cycle check: the graph above is).
        for module in sources():
            if not module.endswith("__main__"):
                importlib.import_module(module)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
