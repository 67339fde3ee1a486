"""The inbox settings form, generated from the channel's settings schema (its JSON Schema, as
GET /api/v1/channels shows it): one template for every channel. Field kinds: text, url,
secret, select, number, checkbox, yes/no/automatic, lines, choices, colour, and nested blocks
(e-mail's imap and smtp). Secrets are write-only: the form says whether one is set and takes
a replacement, never shows it. What a schema holds that a form cannot (free-form maps) is
left out and kept as stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.datastructures import FormData

from frontdesk.inboxes.secrets import MASK, NESTED_SECRET_FIELDS

PREFIX = "s"
# Strings longer than this get a text area.
LONG_TEXT = 300
TEXT_KINDS = frozenset({"text", "url", "textarea", "number", "lines", "colour"})


@dataclass
class Field:
    name: str
    # The form input's name: "s.imap.host".
    path: str
    kind: str
    required: bool = False
    nullable: bool = False
    options: list[str] = field(default_factory=list)
    # The stored value to show (None for secrets: they are never shown).
    value: Any = None
    # Secrets only: a value is stored.
    is_set: bool = False
    children: list[Field] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    step: str = "1"
    max_length: int | None = None

    @property
    def input_id(self) -> str:
        return "fd-set-" + self.path.replace(".", "-").replace("_", "-")


def form_fields(schema: type[BaseModel] | None, stored: Mapping[str, Any]) -> list[Field]:
    """The fields of a channel's settings, filled with `stored` (the inbox's settings as
    kept, secrets sealed: only whether they are set is read from them)."""
    if schema is None:
        return []
    spec = schema.model_json_schema()
    return _fields(spec, spec.get("$defs", {}), PREFIX, stored, nested=False)


def _fields(
    spec: dict[str, Any], defs: dict[str, Any], prefix: str, stored: Mapping[str, Any], *,
    nested: bool,
) -> list[Field]:  # fmt: skip
    required = set(spec.get("required", []))
    found = []
    for name, prop in spec.get("properties", {}).items():
        made = _field(name, prop, defs, f"{prefix}.{name}", stored.get(name), nested=nested)
        if made is not None:
            made.required = name in required
            found.append(made)
    return found


def _field(
    name: str, prop: dict[str, Any], defs: dict[str, Any], path: str, value: Any, *, nested: bool
) -> Field | None:
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    nullable = len(options) < len(prop.get("anyOf", [prop]))
    inner = {**prop, **options[0]} if len(options) == 1 else prop
    secret = bool(inner.get("writeOnly") or prop.get("writeOnly")) or (
        nested and name in NESTED_SECRET_FIELDS
    )
    made = Field(name=name, path=path, kind="text", nullable=nullable)
    if "$ref" in inner:
        block = defs[inner["$ref"].split("/")[-1]]
        made.kind = "block"
        made.children = _fields(block, defs, path, value or {}, nested=True)
        made.value = value
        return made
    kind = _kind(name, inner, secret=secret, nullable=nullable)
    if kind is None:
        return None
    made.kind = kind
    made.options = list(inner.get("enum") or inner.get("items", {}).get("enum") or [])
    made.minimum = inner.get("minimum", inner.get("exclusiveMinimum"))
    made.maximum = inner.get("maximum", inner.get("exclusiveMaximum"))
    made.step = "1" if inner.get("type") == "integer" else "any"
    made.max_length = inner.get("maxLength")
    if secret:
        made.is_set = value not in (None, "")
    else:
        made.value = value if value is not None else inner.get("default", prop.get("default"))
    return made


def _kind(name: str, spec: dict[str, Any], *, secret: bool, nullable: bool) -> str | None:
    kind = spec.get("type")
    if secret:
        return "secret"
    if "enum" in spec:
        return "select"
    if kind == "boolean":
        return "tristate" if nullable else "checkbox"
    if kind in ("integer", "number"):
        return "number"
    if kind == "array":
        return "choices" if "enum" in spec.get("items", {}) else "lines"
    if kind != "string":
        return None  # free-form maps: kept as stored
    if spec.get("pattern", "").startswith("^#[0-9a-fA-F]{6}"):
        return "colour"
    if name.endswith("url"):
        return "url"
    return "textarea" if (spec.get("maxLength") or 0) > LONG_TEXT else "text"


def settings_from_form(fields: list[Field], form: FormData, *, editing: bool) -> dict[str, Any]:
    """The settings a submitted form asks for. A secret left empty keeps the stored one (left
    out at the top; MASK inside a block, which the update replaces whole); an empty optional
    text is null; an optional block left empty is null."""
    result: dict[str, Any] = {}
    for item in fields:
        if item.kind == "block":
            off = item.nullable and _left_empty(item, form)
            result[item.name] = (
                None if off else settings_from_form(item.children, form, editing=editing)
            )
            continue
        taken = _value(item, form, editing=editing)
        if taken is not _OMIT:
            result[item.name] = taken
    return result


_OMIT = object()


def _left_empty(block: Field, form: FormData) -> bool:
    """An optional block is off when the texts it cannot do without (e-mail: host and port)
    are all empty; the ones with defaults (folder, timeouts) come filled in."""
    texts = [child for child in block.children if child.kind in TEXT_KINDS]
    needed = [child for child in texts if child.required] or texts
    return not any(str(form.get(child.path) or "").strip() for child in needed)


def _value(item: Field, form: FormData, *, editing: bool) -> Any:
    raw = str(form.get(item.path) or "")
    if item.kind == "checkbox":
        return item.path in form
    if item.kind == "choices":
        return [str(v) for v in form.getlist(item.path) if str(v) in item.options]
    if item.kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if item.kind == "tristate":
        return {"true": True, "false": False}.get(raw)
    if item.kind == "secret":
        if raw:
            return raw
        nested = item.path.count(".") > 1
        return MASK if editing and nested else _OMIT
    if not raw.strip():
        return None if item.nullable else _OMIT
    if item.kind == "number":
        return _number(raw.strip())
    return raw.strip() if item.kind != "textarea" else raw


def _number(raw: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            continue
    return raw  # refused by the channel's validation, shown next to the field
