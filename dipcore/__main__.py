"""``python -m dipcore``: the book's command line (``dipcore.book.cli``)."""
import sys

from .book.cli import run

sys.exit(run())
