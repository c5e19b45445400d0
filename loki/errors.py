"""One root error with a subclass per stage; each carries a short code and an actionable message."""

from __future__ import annotations


class LokiError(Exception):
    """Base of every error LOKI raises on purpose; `str()` is a message a person can act on."""

    code = "loki"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.args[0]) if self.args else self.code


class ConfigError(LokiError):
    """A setting has a value LOKI cannot use."""

    code = "config"


class ProfileError(LokiError):
    """A profile file has a line LOKI cannot compile."""

    code = "profile"

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


class ActionError(LokiError):
    """An action failed validation or could not be carried out."""

    code = "action"


class PolicyDenied(ActionError):
    """The policy refused an action."""

    code = "policy_denied"


class ModelError(LokiError):
    """A model is missing, corrupt or failed to load."""

    code = "model"


class AudioError(LokiError):
    """An audio device is missing or failed."""

    code = "audio"


class SttError(LokiError):
    """Speech recognition failed."""

    code = "stt"


class TtsError(LokiError):
    """Speech synthesis failed."""

    code = "tts"


class LlmError(LokiError):
    """A language-model backend failed, timed out or answered something unusable."""

    code = "llm"


class ScreenError(LokiError):
    """The screen could not be captured or read."""

    code = "screen"
