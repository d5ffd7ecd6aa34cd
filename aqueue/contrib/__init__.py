"""Integrations with other projects, each behind an extra: ``prometheus`` (``aqueue-redis[metrics]``)."""
