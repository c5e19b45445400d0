"""The model store: finds the embedded models from PyPI, joins split ones, pulls from the hub, checks sha256.

Layout of the store (`Settings.models_path`: the checkout's models/ when it holds models, else
$XDG_DATA_HOME/loki/models, or LOKI_MODELS_DIR; never the working directory's):

    whisper-base/            the multilingual base model joined from its two PyPI halves
    whisper-small/           the same for small, or pulled from the hub
    whisper-NAME/            any faster-whisper model pulled with `loki models pull whisper-NAME`
    NAME/                    any CTranslate2 Whisper folder you put here (LOKI_STT_MODEL=NAME)
    NAME.onnx + .onnx.json   Piper voices
    gemma-3-270m-q4_k_m.gguf the embedded language model, assembled from its four PyPI chunks
    manifest.json            sha256 of every file LOKI loaded, with where the expected value came from

Files LOKI uses in place (inside site-packages) are checked against their wheel's RECORD; files it
builds (joined, assembled, pulled) against the hash recorded when they were built and checked.

One module per model kind (`whisper`, `piper`, `llm`, `wake`), each with a `catalogue` of its models;
`store` holds what they share (the manifest, file checks, atomic writes, the PyPI packages' RECORDs),
and `catalogue` lists, verifies and pulls across the kinds.
"""

from loki.models.catalogue import list_models, pull, verify_models
from loki.models.llm import GEMMA_FILE, gemma_gguf
from loki.models.piper import (
    PIPER_DEFAULT_VOICE,
    embedded_piper_voice,
    piper_voice,
    piper_voice_config,
    piper_voice_file,
)
from loki.models.store import (
    INSTALL_HINT,
    MANIFEST_NAME,
    FileCheck,
    Manifest,
    ModelEntry,
    check_file,
    record_hashes,
    sha256_file,
    store_path,
)
from loki.models.wake import wakeword_models
from loki.models.whisper import (
    BASE,
    SMALL,
    TINY_EN,
    default_whisper_name,
    pypi_whisper_files,
    whisper_model_dir,
    whisper_names,
)

__all__ = [
    "BASE",
    "GEMMA_FILE",
    "INSTALL_HINT",
    "MANIFEST_NAME",
    "PIPER_DEFAULT_VOICE",
    "SMALL",
    "TINY_EN",
    "FileCheck",
    "Manifest",
    "ModelEntry",
    "check_file",
    "default_whisper_name",
    "embedded_piper_voice",
    "gemma_gguf",
    "list_models",
    "piper_voice",
    "piper_voice_config",
    "piper_voice_file",
    "pull",
    "pypi_whisper_files",
    "record_hashes",
    "sha256_file",
    "store_path",
    "verify_models",
    "wakeword_models",
    "whisper_model_dir",
    "whisper_names",
]
