"""The token guard and CSRF protection of the dashboard.

With a token set, every route but the login page and the static files needs either the header
``Authorization: Bearer TOKEN`` or the session cookie the login form sets (an HMAC of the token,
so the token itself is never stored in the browser). Every POST made with cookies (the login
form's included) must carry the ``csrf`` form field equal to the ``aqueue_csrf`` cookie (double
submit; both cookies are ``SameSite=Strict``); a request with the bearer header sends no cookies
of the browser's own accord, so it needs none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "aqueue_session"
CSRF_COOKIE = "aqueue_csrf"
CSRF_FIELD = "csrf"
#: Paths (under the app's root) open without a token.
OPEN_PATHS = ("/login", "/static/")


def session_value(token: str) -> str:
    """Return the session cookie's value for ``token``."""
    return hmac.new(token.encode(), b"aqueue-dashboard-session", hashlib.sha256).hexdigest()


def local_path(request: Request) -> str:
    """Return the request's path below the app's mount point."""
    root = request.scope.get("root_path", "")
    path = request.url.path
    return path[len(root) :] if root and path.startswith(root) else path


def bearer_ok(request: Request, token: str) -> bool:
    """Whether the request carries ``Authorization: Bearer TOKEN``."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


def authenticated(request: Request, token: str | None) -> bool:
    """Whether the request may see the dashboard (always, when no token is set)."""
    if token is None:
        return True
    if bearer_ok(request, token):
        return True
    cookie = request.cookies.get(SESSION_COOKIE, "")
    return hmac.compare_digest(cookie.encode(), session_value(token).encode())


def is_open(request: Request) -> bool:
    """Whether the path needs no token (the login form, static files)."""
    path = local_path(request)
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in OPEN_PATHS)


def csrf_token(request: Request) -> str:
    """Return the CSRF value for this browser (its cookie's, or a fresh one ``remember_csrf`` sets)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and len(existing) == 32:
        return existing
    fresh: str = request.state.__dict__.setdefault("new_csrf", secrets.token_hex(16))
    return fresh


def remember_csrf(request: Request, response: Response) -> None:
    """Set the CSRF cookie on ``response`` if this request created one."""
    fresh = request.state.__dict__.get("new_csrf")
    if fresh:
        response.set_cookie(CSRF_COOKIE, fresh, httponly=True, samesite="strict", path=cookie_path(request))


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """Whether a POST's ``csrf`` field matches the browser's cookie (or it came with the bearer header)."""
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return True
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(cookie.encode(), submitted.encode()))


def cookie_path(request: Request) -> str:
    """Return the path cookies are scoped to: the app's mount point."""
    return request.scope.get("root_path") or "/"
