"""Speaking: Piper voices streamed sentence by sentence to the speaker, cut at once on barge-in.

`SpeechOutput` loads lazily, so the light parts (text handling, the said record) import fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from loki.tts.output import SpeechOutput, SpeechResult

__all__ = ["SpeechOutput", "SpeechResult"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from loki.tts import output

        return getattr(output, name)
    raise AttributeError(f"module 'loki.tts' has no attribute {name!r}")
