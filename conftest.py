"""nbval validates the chapters the book publishes: the notebooks listed in _toc.yml. Chapters not
yet in the table of contents (their runs are still being computed) are run at the smoke protocol
by tests/test_book.py only.

The test command runs on both cores (pytest-xdist, ``--dist loadgroup``). Tests that must share
one process are grouped here: the cells of one notebook (one kernel, run in order), the tests of
the smoke edition (built once), and those of the published book's build (built once). Every other
test is scheduled on its own. The groups that take longest are handed out first.
"""
from pathlib import Path

import pytest

from dipcore.book.chapter import published

ROOT = Path(__file__).resolve().parent
# The longest groups first, so that the two workers finish together (measured with --durations).
FIRST = ("smoke-edition", "book")


def pytest_ignore_collect(collection_path, config):
    if collection_path.suffix == ".ipynb":
        rel = collection_path.resolve().relative_to(ROOT).with_suffix("").as_posix()
        return rel not in published(ROOT) or None
    return None


def group(item) -> str | None:
    """The xdist group a test belongs to (None: scheduled on its own)."""
    if item.path.suffix == ".ipynb":
        return f"nbval:{item.path.stem}"
    site = getattr(item, "callspec", None) and item.callspec.params.get("site")
    if site == "smoke edition" or "smoke_edition" in item.fixturenames and site is None:
        return "smoke-edition"
    if site == "book" or "book" in item.fixturenames:
        return "book"
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark each test with its group, and put the longest groups first (every worker collects the
    same order, as xdist requires)."""
    for item in items:
        name = group(item)
        if name:
            item.add_marker(pytest.mark.xdist_group(name))
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(group(item), len(FIRST)))  # stable: the rest keep their order
