"""The routing expression language: small, parsed into closures, never `eval`-ed.

    skills HAS 'billing' AND languages HAS 'ar'
    tier IN ['L2', 'L3'] OR (skills.billing >= 3 AND NOT location == 'remote')

Grammar (keywords are case-insensitive):

    expr    := or
    or      := and ('OR' and)*
    and     := not ('AND' not)*
    not     := 'NOT' not | compare
    compare := operand (('==' | '=' | '!=' | '<' | '<=' | '>' | '>=' | 'IN' | 'HAS') operand)?
    operand := NUMBER | STRING | list | 'TRUE' | 'FALSE' | 'NULL' | name | '(' expr ')'
    list    := '[' (operand (',' operand)*)? ']'
    name    := IDENT ('.' IDENT)*

A name reads the attributes it is evaluated against (`skills.billing` reads key `billing` of
`skills`); a missing name is NULL. Comparisons between values of different kinds are false,
never an error, so one odd attribute cannot stop routing. `a HAS b` is membership in a list,
the keys of a mapping or a substring; with a list on the right it means "has all of them".
`a IN b` is `b HAS a`."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from frontdesk.kit.errors import Invalid

MAX_LENGTH = 2000
MAX_DEPTH = 50

Env = Mapping[str, Any]
Fn = Callable[[Env], Any]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>-?\d+(?:\.\d+)?)
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|<=|>=|=|<|>|\(|\)|\[|\]|,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
KEYWORDS = {"AND", "OR", "NOT", "IN", "HAS", "TRUE", "FALSE", "NULL"}
COMPARISONS = {"==", "=", "!=", "<", "<=", ">", ">=", "IN", "HAS"}


class ExpressionError(Invalid):
    """A syntax error, with the 0-based character position where it was found."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}", code="invalid_expression")
        self.position = position


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | op | word | keyword | end
    text: str
    position: int


def tokenize(source: str) -> list[Token]:
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters", MAX_LENGTH)
    tokens: list[Token] = []
    at = 0
    while at < len(source):
        if source[at:].strip() == "":
            break
        match = _TOKEN.match(source, at)
        if match is None or match.end() == at:
            start = len(source[at:]) - len(source[at:].lstrip()) + at
            raise ExpressionError(f"unexpected character {source[start]!r}", start)
        kind = match.lastgroup or "op"
        text = match.group(kind)
        start = match.start(kind)
        if kind == "word" and text.upper() in KEYWORDS:
            kind, text = "keyword", text.upper()
        tokens.append(Token(kind, text, start))
        at = match.end()
    tokens.append(Token("end", "", len(source)))
    return tokens


@dataclass(frozen=True)
class Expression:
    """A parsed expression: `matches(attributes)` is its truth over those attributes."""

    source: str
    fn: Fn
    names: frozenset[str]

    def evaluate(self, env: Env) -> Any:
        return self.fn(env)

    def matches(self, env: Env) -> bool:
        return _truthy(self.fn(env))


def parse(source: str) -> Expression:
    """Parse an expression, or raise ExpressionError naming the position of the problem."""
    if not source.strip():
        raise ExpressionError("empty expression", 0)
    parser = _Parser(tokenize(source))
    fn = parser.expression(0)
    parser.expect_end()
    return Expression(source, fn, frozenset(parser.names))


def always() -> Expression:
    return Expression("TRUE", lambda env: True, frozenset())


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.at = 0
        self.names: set[str] = set()

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def accept(self, text: str) -> bool:
        if self.token.kind in ("op", "keyword") and self.token.text == text:
            self.at += 1
            return True
        return False

    def fail(self, expected: str) -> ExpressionError:
        found = "the end" if self.token.kind == "end" else repr(self.token.text)
        return ExpressionError(f"expected {expected}, found {found}", self.token.position)

    def expect_end(self) -> None:
        if self.token.kind != "end":
            raise self.fail("an operator or the end")

    def expression(self, depth: int) -> Fn:
        if depth > MAX_DEPTH:
            raise ExpressionError("expression nested too deeply", self.token.position)
        left = self.conjunction(depth)
        while self.accept("OR"):
            left = _or(left, self.conjunction(depth))
        return left

    def conjunction(self, depth: int) -> Fn:
        left = self.negation(depth)
        while self.accept("AND"):
            left = _and(left, self.negation(depth))
        return left

    def negation(self, depth: int) -> Fn:
        if self.accept("NOT"):
            if depth > MAX_DEPTH:
                raise ExpressionError("expression nested too deeply", self.token.position)
            inner = self.negation(depth + 1)
            return lambda env: not _truthy(inner(env))
        return self.comparison(depth)

    def comparison(self, depth: int) -> Fn:
        left = self.operand(depth)
        if self.token.kind in ("op", "keyword") and self.token.text in COMPARISONS:
            op = self.take().text
            return _compare(op, left, self.operand(depth))
        return left

    def operand(self, depth: int) -> Fn:
        token = self.take()
        if token.kind == "number":
            number = float(token.text) if "." in token.text else int(token.text)
            return lambda env: number
        if token.kind == "string":
            text = _unquote(token.text)
            return lambda env: text
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE", "NULL"):
            constant = {"TRUE": True, "FALSE": False, "NULL": None}[token.text]
            return lambda env: constant
        if token.kind == "word":
            self.names.add(token.text)
            return _lookup(token.text.split("."))
        if token.kind == "op" and token.text == "(":
            inner = self.expression(depth + 1)
            if not self.accept(")"):
                raise self.fail("')'")
            return inner
        if token.kind == "op" and token.text == "[":
            return self.listing(depth)
        self.at -= 1
        raise self.fail("a value, a name or '('")

    def listing(self, depth: int) -> Fn:
        items: list[Fn] = []
        if not self.accept("]"):
            items.append(self.operand(depth + 1))
            while self.accept(","):
                items.append(self.operand(depth + 1))
            if not self.accept("]"):
                raise self.fail("',' or ']'")
        return lambda env: [item(env) for item in items]


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _lookup(path: list[str]) -> Fn:
    if len(path) == 1:
        key = path[0]
        return lambda env: env.get(key)

    def read(env: Env) -> Any:
        value: Any = env
        for part in path:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value

    return read


def _truthy(value: Any) -> bool:
    return value is not None and value is not False and value != 0 and value != "" and value != []


def _or(left: Fn, right: Fn) -> Fn:
    return lambda env: _truthy(left(env)) or _truthy(right(env))


def _and(left: Fn, right: Fn) -> Fn:
    return lambda env: _truthy(left(env)) and _truthy(right(env))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _has(container: Any, item: Any) -> bool:
    if isinstance(item, list):
        return all(_has(container, each) for each in item)
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, Mapping | list | tuple | set | frozenset):
        try:
            return item in container
        except TypeError:  # an unhashable item asked of a mapping
            return False
    return False


def _ordered(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None or _kind(a) != _kind(b) or _kind(a) not in ("number", "str"):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _compare(op: str, left: Fn, right: Fn) -> Fn:
    if op in ("==", "="):
        return lambda env: _equal(left(env), right(env))
    if op == "!=":
        return lambda env: not _equal(left(env), right(env))
    if op == "HAS":
        return lambda env: _has(left(env), right(env))
    if op == "IN":
        return lambda env: _has(right(env), left(env))
    return lambda env: _ordered(op, left(env), right(env))


def _equal(a: Any, b: Any) -> bool:
    return _kind(a) == _kind(b) and bool(a == b)


def check(source: str | None) -> str | None:
    """Validate an optional expression for a schema; returns it unchanged."""
    if source is not None and source.strip():
        parse(source)
    return source
