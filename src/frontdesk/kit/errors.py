"""Domain errors; views never build error bodies by hand, the app's handlers do."""

from __future__ import annotations


class FrontdeskError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
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
    code = "invalid"


class TooLarge(FrontdeskError):
    status = 413
    code = "too_large"


class Unavailable(FrontdeskError):
    """A temporary cause (the database is down or busy): the same request may succeed later."""

    status = 503
    code = "unavailable"


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}
