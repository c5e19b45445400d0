"""Language-model backends behind one interface: llama.cpp, OpenAI-compatible, Ollama, Gemini."""

from loki.llm.base import Llm, Message, Schema
from loki.llm.factory import build_llm

__all__ = ["Llm", "Message", "Schema", "build_llm"]
