"""Scoring known texts against an utterance with Whisper's decoder, teacher-forced on the audio.

A transcript is the decoder's own guess; when the candidates are known (profile phrases, the wake
phrase), the same model can say how likely each one is given the audio: CTranslate2's `align()`
feeds a text's tokens to the decoder and returns the probability it gave each of them. The
encoder's output is shared with the transcriber when it made one (`Transcript.encoding`), so a
short command is encoded once. What to score and what the scores decide is the caller's
(`loki.listen.commands`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from loki.stt.audiofile import SAMPLE_RATE_HZ
from loki.stt.transcriber import Encoding, with_lead_in

if TYPE_CHECKING:
    from loki.stt.transcriber import Transcriber

MAX_PRIOR_PREFIXES = 64
"""(language, prefix) pairs whose silence log-probabilities are cached before the cache is emptied."""


class PhraseScorer:
    """Token log-probabilities of candidate texts given an utterance, from the transcriber's Whisper model.

    Blocking: call it from the speech-recognition thread.

    Args:
        transcriber: its loaded Whisper model (`load()`) is the one scored with (no second copy in memory).
    """

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self._priors: dict[tuple[str, str], dict[str, np.ndarray]] = {}  # (language, prefix) -> text -> log-probs
        self._silence: Encoding | None = None
        self._model: Any = None
        self._whisper: Any = None
        self._tokenizers: dict[str, Any] = {}
        self._lock = threading.Lock()

    # Model ------------------------------------------------------------------------------------
    def _load(self) -> Any:
        """The transcriber's CTranslate2 Whisper (loaded once, shared)."""
        if self._model is None:
            self._whisper = self.transcriber.load()
            self._model = self._whisper.model
        return self._model

    def _tokenizer(self, language: str) -> Any:
        if language not in self._tokenizers:
            from faster_whisper.tokenizer import Tokenizer

            model = self._load()
            self._tokenizers[language] = Tokenizer(
                self._whisper.hf_tokenizer,
                model.is_multilingual,
                task="transcribe",
                language=language if model.is_multilingual else None,
            )
        return self._tokenizers[language]

    def warm_up(self) -> Encoding:
        """Load the model and encode the silence texts are weighed against (once; the daemon does it at start)."""
        with self._lock:
            return self._silence_encoding()

    def _silence_encoding(self) -> Encoding:
        if self._silence is None:
            self._silence = self.encode(np.zeros(2 * SAMPLE_RATE_HZ, dtype=np.float32))
        return self._silence

    # Scoring ----------------------------------------------------------------------------------
    def encode(self, audio: np.ndarray) -> Encoding:
        """The audio through Whisper's encoder, with a window of about twice its length (as the fast path)."""
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        model = self._load()
        samples = audio.astype(np.float32) / 32768.0 if audio.dtype == np.int16 else audio.astype(np.float32)
        samples = with_lead_in(samples)  # as the transcriber hears it, so its encoding can stand in for this one
        features = FeatureExtractor(feature_size=model.n_mels)(samples)[:, :-1]
        frames = features.shape[-1]
        window = min(3000, max(600, 2 * frames))
        padded = np.zeros((features.shape[0], window), dtype=np.float32)
        padded[:, : min(frames, window)] = features[:, :window]
        output = np.array(model.encode(ctranslate2.StorageView.from_array(padded[None]), to_cpu=True))
        return Encoding(output, min(frames, window))

    def score(
        self,
        audio: np.ndarray,
        texts: list[str],
        *,
        prefix: str = "",
        language: str = "en",
        encoding: Encoding | None = None,
    ) -> list[float]:
        """Mean log-probability per token of each text (said after `prefix`) given the audio.

        `encoding` is the audio's encoder output when the transcriber already made it (the fast path's).
        """
        logprobs = self.token_logprobs(audio, texts, prefix=prefix, language=language, encoding=encoding)
        return [mean_logprob(lp) for lp in logprobs]

    def token_logprobs(
        self,
        audio: np.ndarray,
        texts: list[str],
        *,
        prefix: str = "",
        language: str = "en",
        encoding: Encoding | None = None,
    ) -> list[np.ndarray]:
        """Each text's tokens' log-probabilities (after `prefix`) given the audio (or its `encoding`)."""
        with self._lock:
            encoding = encoding or self.encode(audio)
            return self._token_logprobs(encoding, texts, prefix, language)

    def prior(self, texts: list[str], prefix: str = "", language: str = "en") -> list[np.ndarray]:
        """Each text's tokens' log-probabilities over silence: what the decoder expects without audio (cached)."""
        with self._lock:
            silence = self._silence_encoding()
            if len(self._priors) > MAX_PRIOR_PREFIXES:
                self._priors.clear()
            cache = self._priors.setdefault((language, prefix.strip()), {})
            missing = [t for t in dict.fromkeys(texts) if t not in cache]
            if missing:
                cache.update(zip(missing, self._token_logprobs(silence, missing, prefix, language), strict=True))
            return [cache[t] for t in texts]

    def _token_logprobs(self, encoding: Encoding, texts: list[str], prefix: str, language: str) -> list[np.ndarray]:
        """Each text's tokens' log-probabilities (after `prefix`), teacher-forced on the encoded audio."""
        import ctranslate2

        model = self._load()
        tokenizer = self._tokenizer(language)
        start = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        lead = tokenizer.encode(" " + prefix.strip()) if prefix.strip() else []

        def styled(text: str) -> str:  # how Whisper would write it: capitalized unless after "Hey Loki,"
            text = text.strip(" .,!?")
            return " " + (text if lead else text[:1].upper() + text[1:]) + "."

        batch = [lead + tokenizer.encode(styled(t)) for t in texts]
        view = ctranslate2.StorageView.from_array(np.repeat(encoding.output, len(batch), axis=0))
        results = model.align(view, start, batch, encoding.frames // 2)
        return [
            np.log(np.maximum(np.asarray(result.text_token_probs[len(lead) :], dtype=np.float64), 1e-9))
            for result in results
        ]


def mean_logprob(values: np.ndarray) -> float:
    """The mean of token log-probabilities (-inf for no tokens)."""
    return float(np.mean(values)) if len(values) else float("-inf")
