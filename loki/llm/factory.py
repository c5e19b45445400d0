"""Build the language model LOKI talks to from the settings: the main backend plus fallbacks.

`LOKI_LLM_URL`, `LOKI_LLM_MODEL` and `LOKI_LLM_API_KEY` belong to the main backend. Fallbacks
(`LOKI_LLM_FALLBACK`) run with their own defaults and never receive the key, so a key meant for
one service is never sent to another: `ollama` is the local Ollama, `openai` a llama-server on
127.0.0.1:8080, `llama_cpp` the embedded model; `gemini` needs a key and is skipped as a fallback.
"""

from __future__ import annotations

import logging
from pathlib import Path

from loki.config import LlmSettings, Settings
from loki.llm.base import Llm
from loki.llm.chain import FallbackChain
from loki.llm.gemini import GeminiBackend
from loki.llm.http import HttpBackend
from loki.llm.llamacpp import LlamaCppBackend, embedded_model_path
from loki.llm.ollama import OllamaBackend
from loki.llm.openai import OpenAiBackend

log = logging.getLogger(__name__)

HTTP_BACKENDS: dict[str, type[HttpBackend]] = {
    "openai": OpenAiBackend,
    "ollama": OllamaBackend,
    "gemini": GeminiBackend,
}


def gguf_path(settings: LlmSettings | Settings, model: str) -> Path:
    """A GGUF named by path, or by file name in the model store."""
    path = Path(model).expanduser()
    if path.exists() or path.is_absolute():
        return path
    store = LlmSettings.of(settings).models_path
    for candidate in (store / model, store / f"{model}.gguf"):
        if candidate.exists():
            return candidate
    return path


def build_backend(name: str, settings: LlmSettings | Settings, *, main: bool) -> Llm | None:
    """One backend; None for a fallback that cannot work without the main backend's settings."""
    llm = LlmSettings.of(settings)
    timeout_s, max_reply_kb = llm.llm_timeout_s, llm.llm_max_reply_kb
    if name == "llama_cpp":
        path = gguf_path(llm, llm.llm_model) if main and llm.llm_model else None
        return LlamaCppBackend(
            path or (lambda: embedded_model_path(llm.models_path)), timeout_s=timeout_s, max_reply_kb=max_reply_kb
        )
    cls = HTTP_BACKENDS.get(name)
    if cls is None:
        return None
    if main:
        return cls(
            url=llm.llm_url,
            model=llm.llm_model,
            api_key=llm.llm_api_key,
            timeout_s=timeout_s,
            max_reply_kb=max_reply_kb,
        )
    if name == "gemini":
        log.warning("LOKI_LLM_FALLBACK: gemini needs a key, which only the main backend gets; skipping it")
        return None
    return cls(timeout_s=timeout_s, max_reply_kb=max_reply_kb)


def build_llm(settings: LlmSettings | Settings) -> Llm | None:
    """The main backend, wrapped in a fallback chain when `LOKI_LLM_FALLBACK` names others."""
    llm = LlmSettings.of(settings)
    if llm.llm_backend == "none":
        return None
    main = build_backend(llm.llm_backend, llm, main=True)
    if main is None:
        return None
    chain: list[Llm] = [main]
    seen = {llm.llm_backend}
    for name in llm.llm_fallback:
        if name in seen or name == "none":
            continue
        seen.add(name)
        backend = build_backend(name, llm, main=False)
        if backend is not None:
            chain.append(backend)
    return chain[0] if len(chain) == 1 else FallbackChain(chain)
