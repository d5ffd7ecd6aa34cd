"""Reading a request's query and form fields: every bad value is one clear 400, never a 500."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request

from aqueue.errors import ConfigurationError
from aqueue.inspection import check_name

#: The largest form a POST may send (they carry a few short fields).
MAX_FORM_BYTES = 16_384


class BadRequest(ConfigurationError):
    """A request's field is missing or malformed (answered 400)."""


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Return query field ``name`` as an int in [low, high], ``default`` when absent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, not {raw[:40]!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be {low} to {high}, not {value}")
    return value


def name_param(request: Request, name: str) -> str | None:
    """Return query field ``name`` (a queue, task or id) checked, or None when absent or empty."""
    raw = request.query_params.get(name) or None
    try:
        return check_name(name, raw)
    except ConfigurationError as e:
        raise BadRequest(str(e)) from None


async def form_of(request: Request) -> FormData:
    """Return the POST's form; a body too large or unreadable is a 400."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
        raise BadRequest("the form is too large")
    try:
        return await request.form(max_files=0, max_fields=50)
    except Exception as e:  # a malformed body: multipart errors and the like
        raise BadRequest(f"the form could not be read: {e}") from None


def optional_field(form: FormData, name: str) -> str | None:
    """Return form field ``name`` checked as a name, or None when absent or empty."""
    raw = form.get(name)
    if not isinstance(raw, str) or raw == "":
        return None
    try:
        return check_name(name, raw)
    except ConfigurationError as e:
        raise BadRequest(str(e)) from None


def field(form: FormData, name: str) -> str:
    """Return form field ``name`` checked as a name; a missing one is a 400."""
    value = optional_field(form, name)
    if value is None:
        raise BadRequest(f"the form field {name!r} is missing")
    return value
