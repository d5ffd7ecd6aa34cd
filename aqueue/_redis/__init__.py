"""Everything that talks to Redis: connections (redis-py and the lean ``Wire``), keys, scripts, Lua."""
