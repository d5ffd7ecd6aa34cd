"""Worker settings used by the CLI tests."""

from typing import Any

from aqueue import task


@task
async def add(ctx: dict[str, Any], x: int, y: int) -> int:
    return x + y


class WorkerSettings:
    functions = [add]
    max_jobs = 10


class BadSettings:
    functions = ["not a function"]


@task
async def chatty(ctx: dict[str, Any], word: str) -> str:
    import logging

    logging.getLogger("tests.chatty").warning("saying %s", word)
    return word


class JsonSettings:
    functions = [add, chatty]
    log_format = "json"


class BadLogFormat:
    functions = [add]
    log_format = "yaml"
