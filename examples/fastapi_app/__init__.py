"""A FastAPI app that enqueues jobs and streams their progress to the browser (server-sent events)."""
