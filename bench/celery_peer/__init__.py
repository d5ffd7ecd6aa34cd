"""Celery 5 peer for ``python -m bench.workflows``: runs in its own venv, prints JSON timings.

Nothing here imports aqueue: this package runs under ``bench/.celery-venv`` (Celery + redis-py only).
"""
