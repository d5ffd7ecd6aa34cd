"""A task's failure comes back to the producer with its message exactly as stored, under either
serializer (malformed envelopes: tests/test_queue.py)."""

from __future__ import annotations

from typing import Any

import pytest

from aqueue import Client, PickleSerializer, job_deserializer, job_serializer, task
from aqueue.errors import TaskError

SECRET = b"a secret key of 32 bytes, or so."


class PrefixedError(Exception):
    """An exception whose ``__init__`` rewrites its argument: rebuilt naively it prefixes twice."""

    def __init__(self, message: str) -> None:
        super().__init__(f"prefix: {message}")
        self.detail = message


class CodedError(Exception):
    """An exception whose ``__init__`` takes other arguments than it passes on."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@task
async def prefixed(ctx: dict[str, Any], message: str) -> None:
    raise PrefixedError(message)


@task
async def coded(ctx: dict[str, Any]) -> None:
    raise CodedError(404, "no such page")


# -- exact messages ----------------------------------------------------------------------------------


def codecs() -> dict[str, tuple[Any, Any]]:
    pickled = PickleSerializer(SECRET)
    return {"orjson": (job_serializer, job_deserializer), "pickle": (pickled.dumps, pickled.loads)}


@pytest.mark.parametrize("codec", ["orjson", "pickle"])
def test_an_exception_whose_init_rewrites_its_argument_keeps_its_message(codec: str) -> None:
    dumps, loads = codecs()[codec]
    back = loads(dumps({"r": PrefixedError("x")}))["r"]
    assert type(back) is PrefixedError
    assert str(back) == "prefix: x" and back.args == ("prefix: x",)


def test_pickle_also_keeps_the_attributes_and_rebuilds_other_signatures() -> None:
    dumps, loads = codecs()["pickle"]
    prefixed_back = loads(dumps(PrefixedError("x")))
    assert prefixed_back.detail == "x"
    coded_back = loads(dumps(CodedError(404, "no such page")))
    assert type(coded_back) is CodedError
    assert str(coded_back) == "404: no such page" and coded_back.code == 404


@pytest.mark.parametrize("codec", ["orjson", "pickle"])
async def test_a_task_failure_reaches_the_producer_with_its_stored_message(
    redis_url: str, run_worker: Any, codec: str
) -> None:
    dumps, loads = codecs()[codec]
    async with (
        Client(redis_url, job_serializer=dumps, job_deserializer=loads) as client,
        run_worker([prefixed, coded], job_serializer=dumps, job_deserializer=loads),
    ):
        job = await client.enqueue("prefixed", "card declined")
        assert job is not None
        with pytest.raises(PrefixedError) as raised:
            await job.result(timeout=10)
        assert str(raised.value) == "prefix: card declined"
        other = await client.enqueue("coded")
        assert other is not None
        with pytest.raises(Exception) as failure:
            await other.result(timeout=10)
        if codec == "pickle":  # pickle carries the attributes: the class is rebuilt whatever its __init__
            assert type(failure.value) is CodedError and str(failure.value) == "404: no such page"
        else:  # the tagged codec rebuilds from args alone: this __init__ cannot take them
            assert isinstance(failure.value, TaskError) and failure.value.type_name == "CodedError"
            assert failure.value.message == "404: no such page"
