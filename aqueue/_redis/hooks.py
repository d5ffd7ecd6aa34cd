"""Compose extensions' Lua into the core scripts: their libraries, then one dispatcher per hook point.

The core scripts call ``aq_hook_dead(...)``, ``aq_hook_finish(...)``, ``aq_hook_finished(...)``,
``aq_hook_enqueue(...)`` and ``aq_hook_enqueued(...)`` unconditionally; with no
extension hooked in, those are empty functions (a Lua call costs well under a microsecond).
"""

from __future__ import annotations

from collections.abc import Sequence

from aqueue.extensions import LuaHooks

__all__ = ["hook_source"]

#: hook point → (dispatcher name, its parameters)
_POINTS = {
    "on_dead": ("aq_hook_dead", "prefix, id, max_deliveries, now, worker"),
    "on_finish": ("aq_hook_finish", "prefix, queue, id, kind"),
    "on_finish_batch": ("aq_hook_finished", "prefix, queue, note, out"),
    "on_enqueue": ("aq_hook_enqueue", "prefix, queue, id, payload, now"),
    "on_enqueue_batch": ("aq_hook_enqueued", "prefix, queue, now"),
}


def hook_source(hooks: Sequence[LuaHooks]) -> str:
    """Return the extensions' libraries followed by the dispatcher of every hook point."""
    parts = [h.library for h in hooks if h.library]
    for point, (name, params) in _POINTS.items():
        calls = [f"  {target}({params})" for target in (getattr(h, point) for h in hooks) if target]
        parts.append("\n".join([f"local function {name}({params})", *calls, "end"]))
    return "\n".join(parts)
