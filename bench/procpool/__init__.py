"""``python -m bench.procpool``: a CPU-bound task in the event loop, in threads, and in the process pool."""
