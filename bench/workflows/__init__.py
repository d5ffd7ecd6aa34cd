"""Workflow benchmark: aqueue chord/chain latency vs Celery 5 on one redis-server.

Run ``python -m bench.workflows`` (see README.md).
"""
