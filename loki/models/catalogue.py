"""The catalogue of every model kind: list what is there, verify its sha256, pull one by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from loki.errors import ModelError
from loki.models import llm, piper, wake, whisper
from loki.models.store import FileCheck, Listing, Manifest, ModelEntry, check_file, store_path

if TYPE_CHECKING:
    from loki.config import Settings


def _catalogue(settings: Settings) -> Iterator[Listing]:
    """Every model with the files to verify: (path, expected sha256 or None, where it came from)."""
    store = store_path(settings)
    manifest = Manifest(store)
    yield from whisper.catalogue(store, manifest)
    yield from piper.catalogue(store, manifest)
    yield from llm.catalogue(store)
    yield from wake.catalogue()


def list_models(settings: Settings) -> list[ModelEntry]:
    """Every model LOKI knows of: embedded (PyPI), joined, pulled or placed in the store."""
    return [entry for entry, _checks in _catalogue(settings)]


def verify_models(settings: Settings) -> list[FileCheck]:
    """Re-hash every model file (no cache) and compare it with its expected sha256."""
    manifest = Manifest(store_path(settings))
    results = []
    covered: set[str] = set()
    for entry, checks in _catalogue(settings):
        for path, expected, source in checks:
            covered.add(str(path))
            if not path.is_file():
                results.append(FileCheck(entry.name, str(path), False, "", expected or "", source, "missing"))
                continue
            results.append(
                check_file(path, expected, model=entry.name, source=source, manifest=manifest, use_cache=False)
            )
    for name, record in sorted(manifest.files.items()):  # anything else LOKI loaded (e.g. LOKI_STT_MODEL=/a/folder)
        path = Path(name)
        if name in covered or not path.is_file():
            continue
        results.append(
            check_file(
                path,
                record.get("expected") or None,
                model=path.parent.name,
                source=str(record.get("source", "manifest")),
                manifest=manifest,
                use_cache=False,
            )
        )
    return results


def pull(name: str, settings: Settings) -> Path:
    """Fetch a model into the store: `whisper-NAME` (or a hub id) or `piper-VOICE`; embedded ones are rebuilt."""
    spec = name.strip()
    if not spec:
        raise ModelError("Name the model to pull, e.g. loki models pull whisper-small (or piper-ru).")
    if spec.startswith("piper-") or spec in piper.PIPER_ALIASES:
        return piper.pull(spec, store_path(settings))
    if spec in llm.GEMMA_NAMES:
        return llm.gemma_gguf(settings)
    return whisper.pull(spec, settings)
