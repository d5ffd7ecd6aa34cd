"""The web dashboard (extra ``aqueue-redis[dashboard]``): ``aqueue dashboard`` or ``create_app(...)``.

Server-rendered pages (Starlette, Jinja2) whose live parts htmx refreshes; no JavaScript build. See
``docs/dashboard.md``; the metrics its ``/metrics`` serves are listed in
:mod:`aqueue.dashboard._metrics`.
"""

from aqueue.dashboard._app import create_app

__all__ = ["create_app"]
