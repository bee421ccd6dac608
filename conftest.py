"""nbval validates the chapters the book publishes: the notebooks listed in _toc.yml. Chapters not
yet in the table of contents (their runs are still being computed) are run at the smoke protocol
by tests/test_book.py only."""
from pathlib import Path

from dipcore.book.chapter import published

ROOT = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".ipynb":
        rel = collection_path.resolve().relative_to(ROOT).with_suffix("").as_posix()
        return rel not in published(ROOT) or None
    return None
