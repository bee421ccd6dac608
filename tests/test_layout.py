"""The layout ARCHITECTURE.md promises: the methods stand alone, the public API is small."""
import subprocess
import sys

import dipcore


def test_the_methods_do_not_import_the_books_machinery():
    code = ("import sys, dipcore, dipcore.nets, dipcore.pruning, dipcore.isometry, dipcore.jsv, dipcore.train, "
            "dipcore.data, dipcore.schedule; print(sorted(m for m in sys.modules if m.startswith('dipcore.book')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_public_api():
    import pkgutil

    submodules = {m.name for m in pkgutil.iter_modules(dipcore.__path__)}  # set as attributes once imported
    public = sorted(n for n in vars(dipcore) if not n.startswith("_") and n not in submodules)
    assert public == ["NETS", "SGDConfig", "approximate_isometry", "build", "initialize", "layerwise_singular_values",
                      "load_data", "mean_jsv", "orthogonal_init", "orthogonalize", "orthp", "parse_schedule",
                      "prune_l1", "prune_snip", "pruned_widths", "singular_values", "train_stacked"]
