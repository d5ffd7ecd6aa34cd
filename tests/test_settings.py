"""Settings classes: arq's option names are read; a typo is named in a warning instead of ignored silently."""

from __future__ import annotations

from typing import Any

import pytest

from aqueue import SettingsWarning, task
from aqueue.settings import create_worker, settings_kwargs


@task
async def ping(ctx: dict[str, Any]) -> str:
    return "pong"


class Typo:
    functions = [ping]
    max_job = 100  # meant max_jobs
    queue_nam = "fast"  # meant queue_name
    _helper = "private names are not options and are not warned about"


class Fine:
    functions = [ping]
    max_jobs = 7
    job_timeout = 3


def test_a_typo_is_named_with_the_option_it_resembles(redis_url: str) -> None:
    with pytest.warns(SettingsWarning) as caught:
        options = settings_kwargs(Typo)
    (warning,) = caught
    message = str(warning.message)
    assert "worker settings Typo" in message
    assert "'max_job' (did you mean 'max_jobs'?)" in message
    assert "'queue_nam' (did you mean 'queue_name'?)" in message
    assert "_helper" not in message
    assert set(options) == {"functions"}


async def test_known_options_are_read_without_a_warning(
    recwarn: pytest.WarningsRecorder, redis_url: str
) -> None:
    # async: arq's Worker.__init__ takes the event loop, and would create (and leak) one outside a test loop
    worker = create_worker(Fine, redis_settings=redis_url)
    assert not [w for w in recwarn if issubclass(w.category, SettingsWarning)]
    assert worker.max_jobs == 7
    assert worker.job_timeout_s == 3


def test_a_dict_of_settings_is_checked_too() -> None:
    with pytest.warns(SettingsWarning, match="'burts' \\(did you mean 'burst'\\?\\)"):
        assert settings_kwargs({"functions": [ping], "burts": True}) == {"functions": [ping]}
