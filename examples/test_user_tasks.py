"""Testing the shop's tasks (examples/user_tasks.py) with aqueue.testing, as your own tests would.

    pytest examples/test_user_tasks.py

aqueue's pytest plugin loads by itself once aqueue is installed; its fixtures start one embedded
redis-server for the run and flush it before each test. These tests are coroutines run by
pytest-asyncio (``asyncio_mode = "auto"`` in this project's pyproject.toml; in strict mode, mark
them ``@pytest.mark.asyncio``). See docs/testing.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import aqueue
from aqueue.testing import eager
from examples.user_tasks import (
    GATEWAY_TIMEOUTS,
    OUTBOX,
    PaymentDeclined,
    WorkerSettings,
    charge,
    checkout,
)


@pytest.fixture
def aqueue_settings() -> type:
    """Tell the plugin's aqueue_eager and aqueue_worker fixtures which tasks to run."""
    return WorkerSettings


@pytest.fixture(autouse=True)
def outside_world() -> Iterator[None]:
    GATEWAY_TIMEOUTS.clear()
    OUTBOX.clear()
    yield
    GATEWAY_TIMEOUTS.clear()
    OUTBOX.clear()


# -- eager mode: the app's own code path, and every enqueue has run by the time it returns ----------


async def test_checkout_charges_and_sends_a_receipt(aqueue_eager) -> None:
    run = await checkout(1, 500, "ada@example.com")
    assert OUTBOX == ["ada@example.com: receipt for ch_1"]  # done before checkout() returned
    assert await run.result() == "ada@example.com"


async def test_a_gateway_timeout_is_retried(aqueue_eager) -> None:
    GATEWAY_TIMEOUTS[2] = 2
    job = await charge.enqueue(2, 500)
    assert job is not None
    assert await job.result() == "ch_2"  # the third try; its backoff did not make the test wait
    assert GATEWAY_TIMEOUTS[2] == 0


async def test_a_declined_payment_stops_the_checkout(aqueue_eager) -> None:
    run = await checkout(3, 0, "bob@example.com")
    with pytest.raises(PaymentDeclined, match="nothing to charge"):
        await run.result()
    assert OUTBOX == []  # no receipt
    assert [failure.task for failure in aqueue_eager.failures] == ["charge"]


async def test_arguments_are_encoded_as_in_production(aqueue_eager) -> None:
    with pytest.raises(aqueue.SerializationError):
        await charge.enqueue(4, object())  # what the serializer refuses fails at enqueue


def test_eager_mode_without_the_fixture() -> None:
    """eager() starts a Redis of its own when given none; here around plain asyncio.run."""

    async def main() -> str:
        job = await charge.enqueue(5, 100)
        assert job is not None
        return str(await job.result())

    with eager(WorkerSettings):
        assert asyncio.run(main()) == "ch_5"


# -- a worker you drive: enqueue, then drain --------------------------------------------------------


async def test_a_batch_of_orders(aqueue_worker) -> None:
    async with aqueue_worker() as worker:
        jobs = [await aqueue.enqueue("charge", order, 100) for order in range(10)]
        report = await worker.drain()
    assert report.complete == 10
    assert [await job.result() for job in jobs if job] == [f"ch_{order}" for order in range(10)]


async def test_drain_reraises_a_failed_job(aqueue_worker) -> None:
    async with aqueue_worker() as worker:
        await aqueue.enqueue("charge", 6, 0)
        with pytest.raises(PaymentDeclined, match="order 6"):
            await worker.drain()


# -- cron, on a clock that only moves when the test says ---------------------------------------------


async def test_the_nightly_report_runs_at_two_in_paris(aqueue_worker) -> None:
    start = datetime(2030, 6, 1, 22, tzinfo=UTC)  # midnight in Paris (summer time)
    async with aqueue_worker(cron_start=start) as worker:
        assert await worker.run_cron(datetime(2030, 6, 1, 23, 30, tzinfo=UTC)) == []  # 01:30 Paris
        runs = await worker.run_cron(datetime(2030, 6, 2, 0, tzinfo=UTC))  # 02:00 Paris
    assert [(run.name, run.status) for run in runs] == [("nightly", "run")]
    assert OUTBOX == ["report for 2030-06-02"]
