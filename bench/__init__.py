"""Benchmarks: aqueue against plain arq 0.28 on one redis-server. Run ``python -m bench``."""
