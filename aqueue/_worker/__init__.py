"""The worker's parts: queue operations, running one job, recording outcomes, the heartbeat."""
