"""taskiq reference peer for the pickup benchmark: runs in its own venv, prints JSON latencies.

Nothing here imports aqueue: this package runs under ``bench/.taskiq-venv`` (taskiq, taskiq-redis,
uvloop). The issue that set aqueue's pickup targets quoted taskiq's pickup on its machine; measuring
taskiq here, on the same Redis in the same run, tells how this machine compares.
"""
