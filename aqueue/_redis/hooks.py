"""Compose extensions' Lua into the core scripts: their libraries, then one dispatcher per hook point.

The core scripts call the dispatchers (``aq_hook_dead(...)``, ``aq_hook_admit(...)``, …)
unconditionally; so may the Lua libraries placed before them (the workflow and cron libraries, and
the extensions' own): :func:`hook_declarations` forward-declares every dispatcher as a local at the
head of the script (one ``local`` line: a dispatcher not called costs nothing), and
:func:`hook_source` assigns them. With no extension hooked in, those are empty functions (a Lua
call costs well under a microsecond) that give the neutral answer: ``true`` for a yes/no point
(every extension must say yes), ``false`` for an any-point (``admitting``, ``holding``,
``withdraw``: one yes is enough, and each is asked), an empty list for a list point (the
extensions' lists joined), ``nil`` for a minimum point (the smallest number any extension gives).
"""

from __future__ import annotations

from collections.abc import Sequence

from aqueue.extensions import LuaHooks

__all__ = ["hook_declarations", "hook_source"]

#: hook point → (dispatcher name, its parameters, how the answers combine)
_POINTS = {
    "on_dead": ("aq_hook_dead", "prefix, id, max_deliveries, now, worker", "call"),
    "on_finish": ("aq_hook_finish", "prefix, queue, id, kind", "call"),
    "on_finish_batch": ("aq_hook_finished", "prefix, queue, note, out", "call"),
    "on_enqueue": ("aq_hook_enqueue", "prefix, queue, id, payload, now", "call"),
    "on_enqueue_batch": ("aq_hook_enqueued", "prefix, queue, now", "call"),
    "may_hand_off": ("aq_hook_may_hand_off", "prefix, queue, id, payload", "all"),
    "admitting": ("aq_hook_admitting", "prefix", "any"),
    "holding": ("aq_hook_holding", "prefix", "any"),
    "waiting": ("aq_hook_waiting", "prefix, queue, now, room", "list"),
    "admit": ("aq_hook_admit", "prefix, queue, id, now", "all"),
    "on_claimed": ("aq_hook_claimed", "prefix, queue, id, tries, lease_end, now", "call"),
    "next_check": ("aq_hook_next_check", "prefix, queue", "min"),
    "on_renew": ("aq_hook_renew", "prefix, queue, id, lease_end", "call"),
    "on_attempt_end": ("aq_hook_attempt_end", "prefix, queue, id", "call"),
    "withdraw": ("aq_hook_withdraw", "prefix, queue, id", "any"),
    "purge": ("aq_hook_purge", "prefix, queue, batch", "list"),
}


def _dispatcher(name: str, params: str, combine: str, targets: Sequence[str]) -> str:
    head = f"{name} = function({params})"  # forward-declared by hook_declarations
    if combine == "call":
        body = [f"  {t}({params})" for t in targets]
    elif combine == "all":
        body = [f"  if not {t}({params}) then return false end" for t in targets] + ["  return true"]
    elif combine == "any":
        body = [f"  local got{n} = {t}({params})" for n, t in enumerate(targets)]
        body += [f"  if got{n} then return true end" for n in range(len(targets))] + ["  return false"]
    elif combine == "list":
        body = ["  local all = {}"]
        body += [f"  for _, v in ipairs({t}({params})) do all[#all + 1] = v end" for t in targets]
        body += ["  return all"]
    else:  # min
        body = ["  local low = nil"]
        body += [f"  local v{n} = {t}({params})" for n, t in enumerate(targets)]
        body += [f"  if v{n} and (not low or v{n} < low) then low = v{n} end" for n in range(len(targets))]
        body += ["  return low"]
    return "\n".join([head, *body, "end"])


def hook_declarations() -> str:
    """Return the forward declaration of every dispatcher (placed before the scripts' libraries)."""
    return "local " + ", ".join(name for name, _, _ in _POINTS.values())


def hook_source(hooks: Sequence[LuaHooks]) -> str:
    """Return the extensions' libraries followed by the dispatcher of every hook point."""
    parts = [h.library for h in hooks if h.library]
    for point, (name, params, combine) in _POINTS.items():
        targets = [t for t in (getattr(h, point) for h in hooks) if t]
        parts.append(_dispatcher(name, params, combine, targets))
    return "\n".join(parts)
