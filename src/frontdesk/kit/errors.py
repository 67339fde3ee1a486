"""Domain errors; views never build error bodies by hand, the app's handlers do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The one code of every answer to input that does not match its schema (types, lengths,
# unknown fields, malformed or too deeply nested JSON), with `details` naming each problem.
INVALID = "invalid"


class FrontdeskError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code:
            self.code = code


class NotFound(FrontdeskError):
    status = 404
    code = "not_found"


class Unauthorized(FrontdeskError):
    status = 401
    code = "unauthorized"


class Forbidden(FrontdeskError):
    status = 403
    code = "forbidden"


class Conflict(FrontdeskError):
    status = 409
    code = "conflict"


class Invalid(FrontdeskError, ValueError):
    status = 422
    code = INVALID


class TooLarge(FrontdeskError):
    status = 413
    code = "too_large"


class TooManyRequests(FrontdeskError):
    """429; the app's handler sends `Retry-After` (whole seconds, rounded up)."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


def error_body(
    code: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


def invalid_input(errors: Iterable[Mapping[str, Any]], *, where: Iterable[str] = ()) -> Invalid:
    """Pydantic's errors (from a body, a query, inbox settings…) as the one validation error:
    the message names the first problem, `details` all of them (unknown fields by name)."""
    prefix = [str(part) for part in where]
    details = [
        {"loc": prefix + [str(part) for part in error.get("loc", ())], "msg": str(error["msg"])}
        for error in errors
    ]
    first = details[0] if details else {"loc": prefix, "msg": "invalid input"}
    return Invalid(f"{'.'.join(first['loc'])}: {first['msg']}", code=INVALID, details=details)


class Unavailable(FrontdeskError):
    """A temporary cause (the database is down or busy): the same request may succeed later."""

    status = 503
    code = "unavailable"
