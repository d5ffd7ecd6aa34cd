"""The composed scripts leave out the library functions they never reach (aqueue/_redis/shake.py)."""

from __future__ import annotations

import redis as sync_redis

from aqueue._redis.shake import shaken

LIBRARY = """\
local LIMIT = 10 -- kept: a constant
local aq_a, aq_b
local function helper(x)
  return x
end
local function used(x)
  return helper(x) + LIMIT
end
local function unused(x)
  return helper(x)
end
local function named_in_a_comment()
  return 1
end
local function named_in_a_string()
  return 2
end
aq_a = function(x)
  return used(x)
end
aq_b = function(x)
  return unused(x)
end"""

SCRIPT = """\
-- named_in_a_comment is only mentioned here
local s = 'a -- not a comment: named_in_a_string'
return {aq_a(1), s}"""


def test_only_what_the_script_reaches_is_kept_in_order() -> None:
    text = shaken(LIBRARY, SCRIPT)
    defined = [line for line in text.split("\n") if "function" in line]
    assert defined == [
        "local function helper(x)",
        "local function used(x)",
        "local function named_in_a_string()",
        "aq_a = function(x)",
    ]
    assert "local LIMIT = 10" in text and "local aq_a, aq_b" in text  # declarations stay


def test_the_shaken_text_runs(sync_r: sync_redis.Redis) -> None:
    reply = sync_r.eval(shaken(LIBRARY, SCRIPT) + "\n" + SCRIPT, 0)
    assert reply == [11, b"a -- not a comment: named_in_a_string"]
