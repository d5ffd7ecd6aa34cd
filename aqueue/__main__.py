"""``python -m aqueue`` runs the CLI."""

from aqueue.cli import main

main()
