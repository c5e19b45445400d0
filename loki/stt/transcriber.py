"""Speech to text with faster-whisper, with a fast path for short commands.

faster-whisper pads every input to a 30 s window, and on a CPU the encoder's cost follows the
window, not the speech: a 1-3 s command pays for 30 s. CTranslate2's Whisper encoder also takes
shorter mel inputs, so the fast path hands it the same features faster-whisper would (the speech
plus zero padding) cut to a window of about twice the audio, at least `min_window_s`. Everything
else - prompt, decoding, temperature, timestamps, no-speech and log-prob checks - is faster-whisper's
own `transcribe()`, so the text is the full window's text unless the shorter context changes the
decoder's mind; benchmarks/stt_bench.py measures how often.

A short window can make the decoder loop ("volume up volume up ..."): the fast path caps the tokens
it may generate, and a capped or looping decode is done once more from the same encoding with a
repetition penalty (a decode, not an encode). An answer that still loops or is over-long is thrown
away and the utterance decoded again with the full 30 s window. Silence and noise never reach the
model (Silero VAD pre-check), and answers that look invented (a stock phrase over almost no speech,
very low confidence) become "".

Vocabulary from the profiles biases recognition by rescoring, not prompting: the decoder returns its
n best hypotheses and the one with more profile words wins when the scores are close ("volume up"
over "value up"). A prompt full of command words made tiny.en loop or echo the list on short
windows, and can put those words in the user's mouth; rescoring only chooses among what the audio
itself produced. What does help is a short previous text showing how LOKI is spoken to ("Hey Loki,
open the browser. Hey Loki, volume down."): it doubled the commands tiny.en got right on robotic
voices without inventing the wake phrase (SttOptions.spoken_to_prompt). English only: the base model
copied a Russian one into the transcript («Эй Локи, открой браузер» for whatever was said).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loki.config import Settings, SttSettings
from loki.errors import ModelError, SttError
from loki.stt.audiofile import SAMPLE_RATE_HZ, as_mono_16k, read_audio
from loki.stt.guards import cut_loop, doubled_run, is_stock_phrase, loop_reason, repeated_run
from loki.words import words_of

if TYPE_CHECKING:
    import numpy as np


log = logging.getLogger(__name__)

FULL_WINDOW_S = 30.0
"""faster-whisper's window: every input is padded to this."""
FRAMES_PER_S = 100
"""Mel frames per second of audio (hop of 160 samples at 16 kHz)."""
HOP_SAMPLES = SAMPLE_RATE_HZ // FRAMES_PER_S
COMPRESSION_RATIO_THRESHOLD = 2.4
"""faster-whisper's default: a decode whose text gzips better than this repeats itself."""
LEAD_IN_S = 0.25
"""Digital silence put before audio that starts with sound (see `with_lead_in`)."""
ONSET_LEVEL = 0.005
"""Sample level (about -46 dBFS) above which audio is taken to start with sound."""
LANGUAGES = ("en", "ru")
"""Languages LOKI has profiles for; `auto` picks the likelier of these."""


@dataclass(frozen=True)
class Transcript:
    """What was said in one utterance, and what it cost to find out."""

    text: str
    language: str
    audio_s: float
    stt_ms: float
    model: str
    path: str = "fast"
    """fast (short encoder window), full (30 s window) or silent (no speech found; the model did not run)."""
    window_s: float = 0.0
    """Encoder window the kept answer was decoded with (0 when the model did not run)."""
    speech_s: float = 0.0
    """Seconds of speech the VAD found."""
    fallback: str = ""
    """Why the fast path's first answer was not kept (decoded again with a repetition penalty, or the full window's)."""
    dropped: str = ""
    """Why a decoded text was turned into "" (stock phrase, low confidence) or cut short (a loop), if it was."""
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    encoding: Encoding | None = field(default=None, repr=False, compare=False)
    """The fast path's encoder output, for scoring command phrases against the same audio without encoding it again."""

    def as_json(self) -> dict[str, Any]:
        """The transcript as a JSON-ready dict (without the encoding)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "encoding"}


@dataclass(frozen=True)
class Encoding:
    """Whisper's encoder output for one utterance: `output` [1, window/2, d_model], `frames` of audio in it."""

    output: np.ndarray
    frames: int


@dataclass(frozen=True)
class SttOptions:
    """How LOKI decodes; one object instead of many keyword arguments."""

    fast: bool = True
    """Use a short encoder window for short utterances."""
    beam_size: int = 1
    """Beam width on the fast path with an English-only model: tiny.en heard the same real English words with
    beam 5, and 217 rather than 220 of 240 spoken commands end to end."""
    multilingual_beam_size: int = 5
    """Beam width on the fast path with a multilingual model. On the 10 shared real Russian recordings of up to
    2.5 s, greedy decoding had 18 % word errors ("Четвери" for "Четыре") and beam 5 9 %, in the same time
    (0.264x and 0.270x of plain transcribe(), medians of 3 runs: the encoder's time dominates); Russian
    commands end to end: 236 and 237 of 240."""
    full_beam_size: int = 5
    """Beam width on the full window (faster-whisper's default): with it, LOKI's Russian on 67 real recordings
    had 9.3 % word errors, with greedy n-best 9.6 %, as plain transcribe(); about 3 % more time."""
    multilingual_fast_max_speech_s: float = 3.0
    """With a multilingual model, more speech than this takes the full window. On 67 real Russian recordings
    (mostly 3-6 s sentences) base's short-window answers had 11.1 % word errors against plain transcribe()'s
    9.6 %; with longer windows too (3x the audio: 11.1 %; at least 10 s: 11.3 %); with the full window past
    3 s of speech, 9.6 %. A command with the wake phrase is 1.3-2.0 s of speech and stays fast. English
    (tiny.en) loses nothing on the short window and keeps it."""
    window_speech_ratio: float = 2.0
    """The fast window is this many times the audio's length..."""
    min_window_s: float = 6.0
    """...and at least this long (shorter windows make the decoder loop and drift)."""
    max_tokens_per_s: float = 10.0
    """Tokens the fast path may generate per second of audio (plus `min_tokens`); more means a loop."""
    min_tokens: int = 24
    loop_repetition_penalty: float = 1.3
    """On the fast path, a decode that loops is done once more with this repetition penalty before the full
    window is tried (1.0: straight to the full window). "Hey Loki," said alone looped on the short window
    ("Hey Loki, hey Loki, hey…") in 3-4 of 60-150 synthetic clips, and its full window took 1.1-2 s in all;
    the penalized n-best decode gave the full window's "Hey Loki." in 50-110 ms on all of them (greedy,
    the old second try, looped as well)."""
    max_words_per_speech_s: float = 6.0
    """People say at most about 5 words a second; more words than this per second of speech is a loop."""
    no_speech_threshold: float = 0.6
    """faster-whisper skips a segment over this no-speech probability (when its log-prob is also low)..."""
    trust_vad_speech_s: float = 0.5
    """...unless the VAD found at least this much speech: short windows raise the no-speech probability
    (0.67-0.70 on clear but robotic "hey loki, undo"), and a skipped segment is a lost command. Below
    this, the spoken-to prompt is left out too (with it, clicks past the VAD became "Let's go.")."""
    log_prob_threshold: float = -1.0
    min_avg_logprob: float = -1.5
    """A segment decoded with less confidence than this is dropped as a guess."""
    vad_threshold: float = 0.5
    """Silero VAD speech probability threshold."""
    min_speech_s: float = 0.12
    """Less speech than this (per the VAD) is silence: the model is not run."""
    stock_phrase_max_speech_s: float = 1.0
    """A stock phrase ("Thank you.") over less speech than this is taken as invented..."""
    stock_phrase_min_speech_s: float = 0.3
    stock_phrase_max_no_speech_prob: float = 0.25
    stock_phrase_min_avg_logprob: float = -1.0
    """...unless the audio clearly holds speech: Silero found at least `stock_phrase_min_speech_s` of it and
    the decoder is sure (no-speech probability at most, mean log-prob at least, these). Real "thank you" and
    «спасибо» (0.5-0.9 s) decoded at no_speech_prob 0.00-0.11 and avg_logprob -0.1 to -0.8; "you" over
    silence came at no_speech_prob 0.98, sounds past the VAD at 0.4-0.7."""
    energy_vad: bool = True
    """When Silero finds no speech, ask LOKI's microphone VAD (webrtcvad over the noise floor) too: Silero
    missed short telephone words (Russian «три», «нет») entirely. Audio only that VAD calls speech is
    kept only if the decoder agrees (no-speech probability under `no_speech_threshold` and mean log-prob
    over `log_prob_threshold`, both) and is not a stock phrase."""
    doubled_penalty: float = 0.1
    """Rescoring penalty for a hypothesis that says a word or phrase twice in a row: on short windows the
    n-best scored "Three. Three." a hair above "Three." (-0.651 vs -0.663), real "5 5" far above "5"."""
    crop_margin_s: float = 0.3
    """Audio kept around the speech when long silences are cropped away."""
    nbest: int = 3
    """Hypotheses the decoder returns for vocabulary rescoring (with a vocabulary; 1 turns it off)."""
    vocabulary_weight: float = 1.0
    """Score bonus for a hypothesis whose words (3+ letters) are all profile words; scores are mean log-probs."""
    compute_type: str = "int8"
    languages: tuple[str, ...] = LANGUAGES
    spoken_to_prompt: bool = True
    """Give the decoder, as previous text, two examples of how LOKI is spoken to ("Hey Loki, open the browser.
    Hey Loki, volume down."). On 72 synthetic "hey loki, <command>" clips tiny.en's raw transcripts reached
    the right tier-0 action 37 times with it and 18 without; it spelled "Hey Loki" in 31 of 32 questions
    (15 without) and put it in none of 68 utterances that lacked it. Used when the VAD found speech
    (`trust_vad_speech_s`)."""

    @classmethod
    def from_settings(cls, settings: SttSettings | Settings) -> SttOptions:
        """Options from the speech-recognition settings (LOKI_STT_FAST)."""
        return cls(fast=SttSettings.of(settings).stt_fast)


def _windowed_whisper_class() -> type:
    """faster-whisper's WhisperModel whose encoder can be given a shorter window (imported lazily)."""
    import numpy as np
    from faster_whisper import WhisperModel

    class WindowedWhisper(WhisperModel):
        """WhisperModel that cuts the padded features to `window_frames` before the encoder.

        faster-whisper pads features with zeros to 30 s; cutting that padding shorter gives the
        encoder "speech + shorter padding", which CTranslate2 accepts. The last encoding is
        reused when the same features come again (language detection, then decoding).
        """

        window_frames: int | None = None
        rescore: Any = None  # callable(text) -> bonus, or None for faster-whisper's own decoding
        nbest: int = 1
        loop_penalty: float = 1.0
        penalized = False  # the last decode looped and was done again with `loop_penalty`
        _last: tuple[Any, Any] | None = None

        def encode(self, features: Any) -> Any:
            if self.window_frames is not None:
                features = features[..., : self.window_frames]
            last = self._last
            if last is not None and last[0].shape == features.shape and np.array_equal(last[0], features):
                return last[1]
            output = super().encode(features)
            self._last = (np.array(features, copy=True), output)
            return output

        def forget(self) -> None:
            self._last = None

        def last_encoding(self, frames: int) -> Encoding | None:
            """The last encoder output (of `frames` frames of audio), as a numpy array."""
            if self._last is None:
                return None
            return Encoding(np.array(self._last[1], dtype=np.float32), frames)

        def generate_with_fallback(self, encoder_output: Any, prompt: Any, tokenizer: Any, options: Any) -> Any:
            """faster-whisper's decoding, or with a vocabulary: n-best at temperature 0, rescored.

            On a short window, a decode that loops is done once more with `loop_penalty` as the
            repetition penalty (`penalized` then says so); if that loops too, faster-whisper's greedy
            decoding has the last word, and the transcriber's own checks decide about the full window.
            """
            import dataclasses

            first = self._generate(encoder_output, prompt, tokenizer, options)
            if first is not None and not self._loops(first, tokenizer, options):
                return first
            if self.window_frames is not None and self.loop_penalty != 1.0:
                penalized = dataclasses.replace(options, repetition_penalty=self.loop_penalty)
                again = self._generate(encoder_output, prompt, tokenizer, penalized)
                if again is not None and not self._loops(again, tokenizer, options):
                    self.penalized = True
                    return again
            if first is None:  # every n-best hypothesis loops (beam search keeps loops alive)
                return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
            return first

        def _generate(self, encoder_output: Any, prompt: Any, tokenizer: Any, options: Any) -> Any:
            """One decode: faster-whisper's, or the rescored n-best (None when every hypothesis loops)."""
            if self.rescore is None or self.nbest <= 1:
                return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
            from faster_whisper.transcribe import get_compression_ratio

            max_length = len(prompt) + options.max_new_tokens if options.max_new_tokens else self.max_length
            result = self.model.generate(
                encoder_output,
                [prompt],
                beam_size=max(options.beam_size, self.nbest),
                num_hypotheses=self.nbest,
                patience=options.patience,
                length_penalty=options.length_penalty,
                repetition_penalty=options.repetition_penalty,
                no_repeat_ngram_size=options.no_repeat_ngram_size,
                max_length=min(max_length, self.max_length),
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=options.suppress_blank,
                suppress_tokens=options.suppress_tokens,
                max_initial_timestamp_index=int(round(options.max_initial_timestamp / self.time_precision)),
            )[0]
            texts = [tokenizer.decode([t for t in ids if t < tokenizer.eot]) for ids in result.sequences_ids]
            best = max(range(len(texts)), key=lambda i: result.scores[i] + self.rescore(texts[i]))
            if repeated_run(words_of(texts[best])) is not None:
                return None
            tokens = result.sequences_ids[best]
            avg_logprob = result.scores[best] * (len(tokens) ** options.length_penalty) / (len(tokens) + 1)
            chosen = _Hypothesis([tokens], [result.scores[best]], result.no_speech_prob)
            return chosen, avg_logprob, 0.0, get_compression_ratio(texts[best].strip())

        @staticmethod
        def _loops(decoded: Any, tokenizer: Any, options: Any) -> bool:
            """A decode that repeats itself, or ran into the token cap."""
            result, _avg_logprob, _temperature, compression_ratio = decoded
            tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
            reason = loop_reason(
                tokenizer.decode(tokens),
                tokens=len(tokens),
                token_cap=options.max_new_tokens,
                compression_ratio=compression_ratio,
                max_compression=options.compression_ratio_threshold or COMPRESSION_RATIO_THRESHOLD,
            )
            return bool(reason)

    return WindowedWhisper


@dataclass
class _Hypothesis:
    """The chosen hypothesis, shaped like CTranslate2's WhisperGenerationResult for faster-whisper."""

    sequences_ids: list[list[int]]
    scores: list[float]
    no_speech_prob: float


@dataclass
class _Decoded:
    text: str
    language: str
    window_s: float
    tokens: int
    token_cap: int | None
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    dropped: str = ""


class Transcriber:
    """Speech to text for LOKI: the configured faster-whisper model, loaded lazily once.

    Args:
        settings: LOKI_LANGUAGE, LOKI_STT_MODEL, LOKI_STT_THREADS and the model store.
        vocabulary: words from the profiles (and the wake phrase) that bias recognition.
        options: decoding options (default: from settings).

    `transcribe()` blocks; the daemon calls it from its own single STT thread. Calls are serialized.
    """

    def __init__(
        self,
        settings: SttSettings | Settings,
        vocabulary: Sequence[str] | None = None,
        *,
        options: SttOptions | None = None,
    ) -> None:
        self.settings = SttSettings.of(settings)
        self.options = options or SttOptions.from_settings(self.settings)
        self.vocabulary = _dedupe(vocabulary or ())
        self._vocabulary_words = {w for entry in self.vocabulary for w in words_of(entry)}
        self._model: Any = None
        self._model_dir: Path | None = None
        self._lock = threading.Lock()
        fw_log = logging.getLogger("faster_whisper")
        if fw_log.level == logging.NOTSET:
            fw_log.setLevel(logging.WARNING)  # it logs every utterance's duration at INFO

    # Model -----------------------------------------------------------------------------------
    @property
    def model_dir(self) -> Path:
        """The CTranslate2 folder of the configured model (joined into the store on first use)."""
        if self._model_dir is None:
            from loki.models import whisper_model_dir

            self._model_dir = whisper_model_dir(self.settings.stt_model, self.settings)
        return self._model_dir

    @property
    def model_name(self) -> str:
        """A short name for the model, as reported in transcripts."""
        if self.settings.stt_model:
            return Path(self.settings.stt_model).name.removeprefix("whisper-")
        from loki.models import default_whisper_name

        return default_whisper_name(self.settings.language)

    def load(self) -> Any:
        """Load the model now (it is otherwise loaded on the first transcription); returns it."""
        with self._lock:
            return self._load_locked()

    def _load_locked(self) -> Any:
        if self._model is None:
            import os

            cls = _windowed_whisper_class()
            threads = self.settings.stt_threads or os.cpu_count() or 1
            started = time.perf_counter()
            try:
                self._model = cls(
                    str(self.model_dir), device="cpu", compute_type=self.options.compute_type, cpu_threads=threads
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise ModelError(
                    f"The Whisper model in {self.model_dir} failed to load ({exc}). Run 'loki models verify'; "
                    "a corrupt file is rebuilt or re-pulled with 'loki models pull NAME'.",
                    code="model_load",
                ) from exc
            from loki.models import Manifest

            sha256 = Manifest(self.settings.models_path).cached(self.model_dir / "model.bin") or "?"
            log.info(
                "loaded Whisper %s from %s (model.bin sha256 %s) in %.0f ms (%d threads)",
                self.model_name,
                self.model_dir,
                sha256[:16],
                (time.perf_counter() - started) * 1000,
                threads,
            )
        return self._model

    @property
    def multilingual(self) -> bool:
        """Whether the model knows languages other than English."""
        return bool(self.load().model.is_multilingual)

    # Transcription -----------------------------------------------------------------------------------
    def transcribe(self, audio: np.ndarray, *, language: str | None = None) -> Transcript:
        """Transcribe one utterance (float32 mono 16 kHz); short ones take the fast path.

        Args:
            audio: the samples.
            language: en, ru or auto; None follows LOKI_LANGUAGE.
        """
        return self._transcribe(audio, language, fast=self.options.fast)

    def transcribe_full(self, audio: np.ndarray, *, language: str | None = None) -> Transcript:
        """Transcribe with faster-whisper's full 30 s window (the reference the fast path is held to)."""
        return self._transcribe(audio, language, fast=False)

    def transcribe_file(self, path: str | Path, *, language: str | None = None) -> Transcript:
        """Transcribe an audio file of any rate and channel count."""
        return self.transcribe(read_audio(path), language=language)

    def _transcribe(self, audio: np.ndarray, language: str | None, *, fast: bool) -> Transcript:
        self.load()  # once; stt_ms counts transcription only
        started = time.perf_counter()
        samples = as_mono_16k(audio)
        audio_s = len(samples) / SAMPLE_RATE_HZ
        samples = with_lead_in(samples)
        lang_setting = (language or self.settings.language).lower()
        if lang_setting not in ("auto", *self.options.languages):
            raise SttError(f"Language {lang_setting!r} is not supported: use en, ru or auto.")
        spans = self._speech_spans(samples)
        speech_s = vad_speech_s = sum(end - start for start, end in spans) / SAMPLE_RATE_HZ
        if speech_s < self.options.min_speech_s and self.options.energy_vad:
            spans = self._energy_spans(samples)
            speech_s = sum(end - start for start, end in spans) / SAMPLE_RATE_HZ
        if speech_s < self.options.min_speech_s:
            return Transcript(
                "",
                lang_setting if lang_setting != "auto" else "",
                round(audio_s, 3),
                _ms_since(started),
                self.model_name,
                path="silent",
                speech_s=round(speech_s, 3),
            )
        samples = self._crop(samples, spans)
        with self._lock:
            model = self._load_locked()
            model.forget()
            try:
                decoded, path, fallback = self._decode_guarded(
                    model, samples, lang_setting, speech_s, vad_speech_s, fast=fast
                )
                encoding = model.last_encoding(len(samples) // HOP_SAMPLES) if path == "fast" else None
            except (RuntimeError, ValueError) as exc:
                raise SttError(f"Speech recognition failed: {exc}") from exc
            finally:
                model.window_frames = None
                model.rescore = None
                model.forget()
        if vad_speech_s < self.options.min_speech_s and decoded.text and not decoded.dropped:
            doubt = self._doubt(decoded)
            if doubt:
                log.info("%r over audio only the energy VAD calls speech: dropped (%s)", decoded.text, doubt)
                decoded.text, decoded.dropped, path = "", doubt, "silent"
        if not decoded.text and vad_speech_s < self.options.min_speech_s:
            path = "silent"
        return Transcript(
            text=decoded.text,
            language=decoded.language,
            audio_s=round(audio_s, 3),
            stt_ms=_ms_since(started),
            model=self.model_name,
            path=path,
            window_s=decoded.window_s,
            speech_s=round(speech_s, 3),
            fallback=fallback,
            dropped=decoded.dropped,
            avg_logprob=round(decoded.avg_logprob, 3),
            no_speech_prob=round(decoded.no_speech_prob, 3),
            encoding=encoding,
        )

    def _decode_guarded(
        self, model: Any, samples: np.ndarray, lang_setting: str, speech_s: float, vad_speech_s: float, *, fast: bool
    ) -> tuple[_Decoded, str, str]:
        """Decode on the fast window, or the full one when asked or when the fast answer looks wrong.

        `speech_s` is the speech found (by either VAD), `vad_speech_s` what Silero found: only that
        vouches for speech against the decoder's no-speech checks.
        """
        audio_s = len(samples) / SAMPLE_RATE_HZ
        if fast and model.model.is_multilingual and speech_s > self.options.multilingual_fast_max_speech_s:
            fast = False  # a long sentence, not a command: the full window's words (see SttOptions)
        window_frames = self._window_frames(audio_s) if fast else None
        language = self._language(model, samples, lang_setting, window_frames)
        if window_frames is None:
            return self._decode_full(model, samples, language, vad_speech_s), "full", ""
        decoded = self._decode(model, samples, language, window_frames, vad_speech_s)
        reason = self._suspect(decoded, speech_s)
        if not reason:
            again = f"the decoder looped; decoded again with repetition penalty {self.options.loop_repetition_penalty}"
            return decoded, "fast", again if model.penalized else ""
        log.info("fast path answer %r looks wrong (%s): decoding with the full window", decoded.text, reason)
        model.forget()
        return self._decode_full(model, samples, language, vad_speech_s), "full", reason

    def _doubt(self, decoded: _Decoded) -> str:
        """Why a text heard where only the energy VAD found speech is not believed ('' when it is)."""
        o = self.options
        if is_stock_phrase(decoded.text):
            return f"stock phrase {decoded.text!r} where Silero found no speech"
        if decoded.no_speech_prob >= o.no_speech_threshold or decoded.avg_logprob < o.log_prob_threshold:
            return (
                f"no speech per Silero, and the decoder unsure (no_speech_prob {decoded.no_speech_prob:.2f}, "
                f"avg_logprob {decoded.avg_logprob:.2f})"
            )
        return ""

    def _decode_full(self, model: Any, samples: np.ndarray, language: str, speech_s: float) -> _Decoded:
        """The whole 30 s window; a loop that survives it is cut after its first round ("и и и и ...")."""
        decoded = self._decode(model, samples, language, None, speech_s)
        cut = cut_loop(decoded.text)
        if cut != decoded.text:
            log.info("the decoder looped (%r): keeping %r", decoded.text[:80], cut)
            decoded.dropped = f"a loop after {cut!r}"
            decoded.text = cut
        return decoded

    def _window_frames(self, audio_s: float) -> int | None:
        o = self.options
        window_s = max(o.min_window_s, o.window_speech_ratio * audio_s)
        frames = int(round(window_s * FRAMES_PER_S / 2)) * 2  # the encoder's convolution has stride 2
        return frames if frames < FULL_WINDOW_S * FRAMES_PER_S else None

    def _language(self, model: Any, samples: np.ndarray, lang_setting: str, window_frames: int | None) -> str:
        multilingual = bool(model.model.is_multilingual)
        if lang_setting != "auto":
            if lang_setting != "en" and not multilingual:
                raise SttError(
                    f"The Whisper model {self.model_name} is English-only and cannot transcribe {lang_setting!r}: "
                    "set LOKI_LANGUAGE=ru or auto (the embedded multilingual base model), "
                    "or LOKI_STT_MODEL to a multilingual model."
                )
            return lang_setting
        if not multilingual:
            return "en"
        model.window_frames = window_frames
        features = model.feature_extractor(samples)
        # the same frames generate_segments() encodes, so the decoder reuses this encoding
        _lang, _prob, all_probs = model.detect_language(features=features[..., :-1])
        probs = dict(all_probs)
        return max(self.options.languages, key=lambda code: probs.get(code, 0.0))

    def prompt(self, language: str) -> str | None:
        """The previous text the decoder starts from (None when SttOptions.spoken_to_prompt is off)."""
        if not self.options.spoken_to_prompt:
            return None
        if language != "en":
            # base copies such a prompt: espeak-ng's Russian commands came out as «открой браузер»
            # (listen_bench --language ru --only accuracy: 20/60 right with it, 32/60 without)
            return None
        # the configured phrase as written (the listener's second phrase, «эй локи», is never the English one)
        wake = (self.settings.wake_phrase or "hey loki").strip()
        return f"{wake.title()}, open the browser. {wake.title()}, volume down."

    def hypothesis_bonus(self, text: str) -> float:
        """Rescoring bonus for one of the n best hypotheses.

        The vocabulary weight times the share of its 3+ letter words that are profile words, minus a
        full point for a hypothesis that repeats itself (beam search keeps loops alive on short windows).
        """
        words = words_of(text)
        bonus = 0.0
        if repeated_run(words) is not None:
            bonus = -1.0
        elif doubled_run(words) is not None:
            bonus = -self.options.doubled_penalty
        long_words = [w for w in words if len(w) >= 3]
        if long_words and self._vocabulary_words:
            in_vocabulary = sum(w in self._vocabulary_words for w in long_words)
            bonus += self.options.vocabulary_weight * in_vocabulary / len(long_words)
        return bonus

    def _decode(
        self, model: Any, samples: np.ndarray, language: str, window_frames: int | None, speech_s: float
    ) -> _Decoded:
        o = self.options
        audio_s = len(samples) / SAMPLE_RATE_HZ
        model.window_frames = window_frames
        model.rescore = self.hypothesis_bonus if self._vocabulary_words else None
        model.nbest = o.nbest
        model.loop_penalty = o.loop_repetition_penalty
        model.penalized = False
        token_cap = None
        if window_frames is not None:
            token_cap = min(200, o.min_tokens + int(o.max_tokens_per_s * audio_s))
        segments, _info = model.transcribe(
            samples,
            language=language,
            task="transcribe",
            beam_size=o.full_beam_size
            if window_frames is None
            else o.multilingual_beam_size
            if model.model.is_multilingual
            else o.beam_size,
            temperature=0.0,
            compression_ratio_threshold=COMPRESSION_RATIO_THRESHOLD,
            log_prob_threshold=o.log_prob_threshold,
            no_speech_threshold=None if speech_s >= o.trust_vad_speech_s else o.no_speech_threshold,
            condition_on_previous_text=False,
            initial_prompt=self.prompt(language) if speech_s >= o.trust_vad_speech_s else None,
            max_new_tokens=token_cap,
            vad_filter=False,
        )
        kept = []
        dropped = ""
        for segment in segments:
            if segment.avg_logprob < o.min_avg_logprob:
                dropped = f"low confidence (avg_logprob {segment.avg_logprob:.2f})"
                continue
            kept.append(segment)
        text = "".join(s.text for s in kept).strip()
        if not words_of(text):
            text = ""  # a lone "." over silence says nothing
        decoded = _Decoded(
            text=text,
            language=language,
            window_s=(window_frames or FULL_WINDOW_S * FRAMES_PER_S) / FRAMES_PER_S,
            tokens=max((len(s.tokens) for s in kept), default=0),
            token_cap=token_cap,
            avg_logprob=min((s.avg_logprob for s in kept), default=0.0),
            no_speech_prob=max((s.no_speech_prob for s in kept), default=0.0),
            compression_ratio=max((s.compression_ratio for s in kept), default=0.0),
            dropped="" if text else dropped,
        )
        if (
            text
            and speech_s < o.stock_phrase_max_speech_s
            and is_stock_phrase(text)
            and not self._clearly_speech(decoded, speech_s)
        ):
            decoded.text, decoded.dropped = "", f"stock phrase {text!r} over {speech_s:.2f} s of speech"
        return decoded

    def _clearly_speech(self, decoded: _Decoded, speech_s: float) -> bool:
        """Whether the VAD and the decoder both say a short stock phrase was really said (see SttOptions)."""
        o = self.options
        return (
            speech_s >= o.stock_phrase_min_speech_s
            and decoded.no_speech_prob <= o.stock_phrase_max_no_speech_prob
            and decoded.avg_logprob >= o.stock_phrase_min_avg_logprob
        )

    def _suspect(self, decoded: _Decoded, speech_s: float) -> str:
        """Why a fast-path answer should not be trusted ('' when it looks fine)."""
        if decoded.dropped.startswith("low confidence"):
            # The VAD heard speech; a short window can make the decoder unsure ("hey loki" alone
            # came out at avg_logprob -1.6 on a loaded machine), so the full window decides.
            return decoded.dropped
        looped = loop_reason(
            decoded.text,
            tokens=decoded.tokens,
            token_cap=decoded.token_cap,
            compression_ratio=decoded.compression_ratio,
            max_compression=COMPRESSION_RATIO_THRESHOLD,
        )
        if looped:
            return looped
        words = words_of(decoded.text)
        doubled = doubled_run(words)
        if doubled is not None:
            # short windows double single words ("Three. Three."); the full window says whether it was said twice
            return f"a {doubled[0]}-word phrase said {doubled[1]} times"
        if len(words) > 2 + self.options.max_words_per_speech_s * speech_s:
            return f"{len(words)} words for {speech_s:.1f} s of speech"
        return ""

    # Voice activity -----------------------------------------------------------------------------------
    def _speech_spans(self, samples: np.ndarray) -> list[tuple[int, int]]:
        """(start, end) sample indexes of speech, per Silero VAD (shipped with faster-whisper)."""
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        if len(samples) < SAMPLE_RATE_HZ // 10:
            return []
        options = VadOptions(
            threshold=self.options.vad_threshold,
            min_speech_duration_ms=100,
            min_silence_duration_ms=300,
            speech_pad_ms=100,
        )
        return [(int(s["start"]), int(s["end"])) for s in get_speech_timestamps(samples, options)]

    def _energy_spans(self, samples: np.ndarray) -> list[tuple[int, int]]:
        """(start, end) sample indexes of speech per LOKI's microphone VAD (webrtcvad over the noise floor)."""
        from loki.audio.vad import vad_utterances

        spans = [
            (max(0, int(utt.start_s * SAMPLE_RATE_HZ)), min(len(samples), int(utt.speech_end_s * SAMPLE_RATE_HZ)))
            for utt in vad_utterances(samples)  # (a second of silence after it ends the last)
        ]
        return [(start, end) for start, end in spans if end > start]

    def _crop(self, samples: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
        """Cut long silences before and after the speech (more than a second); short ones stay."""
        if not spans:
            return samples
        margin = int(self.options.crop_margin_s * SAMPLE_RATE_HZ)
        start = max(0, spans[0][0] - margin)
        end = min(len(samples), spans[-1][1] + margin)
        if start > SAMPLE_RATE_HZ or len(samples) - end > SAMPLE_RATE_HZ:
            return samples[start:end]
        return samples


def with_lead_in(samples: np.ndarray) -> np.ndarray:
    """The audio with `LEAD_IN_S` of digital silence in front when it starts with sound, else as it is.

    Both Silero and Whisper need a moment of quiet before speech: real words cut to start at their first
    sample (tests/test_stt_real.py) lost Russian «три» entirely (Silero found it only with silence in
    front, the energy VAD took the word itself for the noise floor) and came out as «Моль» for «ноль»,
    «Бауза» for «пауза», "Thank you." for "two", "5" for "five five"; with 0.1-0.5 s of silence in front
    they were right. Audio that already starts quiet (recordings, the daemon's pre-roll) is not changed.
    """
    import numpy as np

    lead_in = int(LEAD_IN_S * SAMPLE_RATE_HZ)
    if np.abs(samples[: lead_in // 2]).max(initial=0.0) < ONSET_LEVEL:
        return samples
    return np.concatenate([np.zeros(lead_in, np.float32), samples])


def _dedupe(words: Sequence[str]) -> list[str]:
    seen: dict[str, str] = {}
    for word in words:
        word = word.strip()
        if word:
            seen.setdefault(word.lower(), word)
    return list(seen.values())


def _is_cyrillic(word: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in word)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
