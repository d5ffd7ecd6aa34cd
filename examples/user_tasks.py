"""A small shop's tasks: the code that examples/test_user_tasks.py tests, as you would test yours.

Run a worker with:  aqueue worker examples.user_tasks.WorkerSettings
"""

from __future__ import annotations

from typing import Any

from aqueue import cron, task
from aqueue.workflows import WorkflowRun


class PaymentDeclined(Exception):
    """The payment provider said no: not worth retrying."""


class GatewayTimeout(Exception):
    """The payment provider did not answer: retried with backoff."""


#: Stand-ins for the outside world (a real app calls a payment API and an email service):
#: how many more times each order's charge times out, and every message sent.
GATEWAY_TIMEOUTS: dict[int, int] = {}
OUTBOX: list[str] = []


@task(retry_on=GatewayTimeout, retry_backoff=True, max_tries=3)
async def charge(ctx: dict[str, Any], order_id: int, cents: int) -> str:
    """Charge an order; return the charge id."""
    if cents <= 0:
        raise PaymentDeclined(f"order {order_id}: nothing to charge")
    if GATEWAY_TIMEOUTS.get(order_id, 0) > 0:
        GATEWAY_TIMEOUTS[order_id] -= 1
        raise GatewayTimeout(f"order {order_id}: the gateway did not answer (try {ctx['job_try']})")
    return f"ch_{order_id}"


@task
async def send_receipt(ctx: dict[str, Any], charge_id: str, email: str) -> str:
    """Email a receipt for a charge."""
    OUTBOX.append(f"{email}: receipt for {charge_id}")
    return email


async def nightly_report(ctx: dict[str, Any]) -> str:
    """Runs at 02:00 Paris time every night."""
    line = f"report for {ctx['scheduled_time']:%Y-%m-%d}"
    OUTBOX.append(line)
    return line


async def checkout(order_id: int, cents: int, email: str) -> WorkflowRun:
    """What the web app calls: charge the order, then send the receipt (a chain)."""
    return await (charge.s(order_id, cents) | send_receipt.s(email)).enqueue()


class WorkerSettings:
    functions = [charge, send_receipt]
    cron_jobs = [cron("0 2 * * *", nightly_report, name="nightly", tz="Europe/Paris")]
