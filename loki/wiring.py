"""The composition root: builds the orchestrator, the daemon and their parts from one Settings object.

Only this module (and the command line above it) knows which concrete stage goes where.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loki.actions.drivers import InputDriver, PyAutoGuiDriver
from loki.actions.executor import Confirm, Executor
from loki.brain.builtin import HelpCommand, SleepCommand
from loki.brain.learn import LearnCommands
from loki.brain.lexicon import contradicts
from loki.brain.orchestrator import Orchestrator, ReplyFn, TurnResult
from loki.brain.tier0 import LocalCommands
from loki.brain.tier2 import ScreenTier, summarizer
from loki.brain.tiers import Tier
from loki.brain.trace import TraceWriter
from loki.config import Settings
from loki.events import CommandHeard, Event, EventBus
from loki.profiles.loader import ProfileSet, load_profiles, shipped_profiles_dir
from loki.profiles.matcher import Matcher
from loki.profiles.normalize import detect_script_language
from loki.profiles.watch import POLL_S, ProfileReload, ProfileWatcher
from loki.screen.window import ActiveWindow, active_context
from loki.service.control import ControlServer

if TYPE_CHECKING:  # the daemon's side loads only when a daemon is built (`loki say` stays fast)
    from loki.audio.mic import Microphone
    from loki.brain.confirm import SpokenConfirm
    from loki.daemon import Daemon
    from loki.listen.wake import WakeSetup
    from loki.stt.protocol import SpeechRecognizer
    from loki.tts import SpeechOutput
    from loki.tts.protocol import Voice

log = logging.getLogger(__name__)


def profile_folders(settings: Settings) -> list[tuple[Path, bool]]:
    """Shipped profiles, then extra folders, then the user's own (which win ties)."""
    folders = [(shipped_profiles_dir(), False)]
    folders += [(Path(p).expanduser(), True) for p in settings.profiles_dirs]
    folders.append((settings.user_profiles_path, True))
    return folders


def load_all_profiles(settings: Settings) -> ProfileSet:
    """Every profile LOKI should read; a bad line raises ProfileError naming file and line."""
    return load_profiles(profile_folders(settings))


def build_tiers(settings: Settings, profiles: ProfileSet, reload: ProfileReload | None = None) -> list[Tier]:
    """Tier 0 always; tier 1 when a language-model backend is configured and available.

    Args:
        reload: loads the profiles again and hands the rules to tier 0 (default: a new one).
    """
    local = LocalCommands(Matcher(profiles))
    reload = reload if reload is not None else ProfileReload(lambda: load_all_profiles(settings))
    reload.follow(local.use)  # help and matching by meaning follow tier 0's rules
    # "remember this as <phrase>" (loki.brain.learn) goes first; after learning it reloads the profiles.
    learn = LearnCommands(settings.user_profiles_path, reload, dry_run=settings.dry_run)
    tier1 = None
    if settings.llm_backend != "none":
        from loki.brain.tier1 import build_tier1

        tier1 = build_tier1(settings, profiles)
    tiers: list[Tier] = [learn, HelpCommand(local), SleepCommand(), local]
    # "click Save", "what's on my screen?": before matching by meaning ("click Save" is not "save the file").
    summarize = summarizer(tier1.llm, settings.llm_timeout_s) if tier1 is not None else None
    folders = [folder for folder, _ in profile_folders(settings)]
    tiers.append(ScreenTier(settings.screen, summarize=summarize, display_folders=folders))
    if settings.meaning:
        from loki.brain.meaning import MeaningCommands

        # Between the phrase rules and the language model; dry-run reads the vector cache but never writes it.
        tiers.append(MeaningCommands(local, cache_dir=settings.cache_path, write_cache=not settings.dry_run))
    if tier1 is not None:
        tiers.append(tier1)
    return tiers


def build_orchestrator(
    settings: Settings,
    *,
    profiles: ProfileSet | None = None,
    driver_factory: Callable[[], InputDriver] = PyAutoGuiDriver,
    reply: ReplyFn | None = None,
    confirm: Confirm | None = None,
    tiers: list[Tier] | None = None,
    publish: Callable[[Event], None] | None = None,
    interrupt: Callable[[], Awaitable[None]] | None = None,
    context: ActiveWindow = active_context,
) -> Orchestrator:
    """The orchestrator with its tiers, policy and executor.

    Args:
        reply: says replies (the daemon's queued speech, or a voice).
        confirm: asks the user before a risky step.
        publish: receives the turn's events.
        interrupt: the `stop` action (default: cut the voice, when `reply` is one).
        context: the screen seam (the active window).
    """
    profiles = profiles if profiles is not None else load_all_profiles(settings)
    tiers = tiers if tiers is not None else build_tiers(settings, profiles)
    screen = next((tier for tier in tiers if isinstance(tier, ScreenTier)), None)
    executor = Executor.from_settings(
        settings.actions,
        driver_factory=driver_factory,
        confirm=confirm,
        interrupt=interrupt or getattr(reply, "interrupt", None),
        screen=screen.click if screen is not None else None,
        progress=(lambda text: reply(text, detect_script_language(text))) if reply is not None else None,
    )
    trace = TraceWriter.from_settings(settings.brain)
    return Orchestrator(settings.brain, tiers, executor, trace=trace, reply=reply, publish=publish, context=context)


# The daemon ---------------------------------------------------------------------------------
def build_daemon(
    settings: Settings,
    *,
    mic: Microphone | None,
    voice: Voice | None = None,
    require_wake: bool = True,
    on_turn: Callable[[TurnResult, CommandHeard], None] | None = None,
    on_event: Callable[[Event], None] | None = None,
    transcriber: SpeechRecognizer | None = None,
    driver_factory: Callable[[], Any] | None = None,
    rescue_commands: bool = True,
    bus: EventBus | None = None,
    context: ActiveWindow | None = None,
    stages: dict[str, Callable[[], Awaitable[None]]] | None = None,
    watch_profiles: bool = False,
    profiles_poll_s: float = POLL_S,
    control: bool = False,
) -> Daemon:
    """Wire the orchestrator, speech recognition, wake word, voice and spoken confirmation around one event bus.

    Args:
        mic: the microphone (None: commands come as text lines, `Daemon.run(lines=...)`).
        voice: LOKI's voice (None: replies are only reported).
        on_event: called with every event on the bus.
        transcriber: speech to text (default: the configured Whisper model, when there is a microphone).
        rescue_commands: score profile phrases against the audio of near-miss commands.
        context: the screen seam (default: the real active window).
        stages: more supervised stages for the daemon (name -> coroutine function), e.g. the systemd watchdog.
        watch_profiles: reload the profiles when their files change (a supervised "profiles" stage).
        profiles_poll_s: seconds between two looks at the profile files.
        control: serve the control socket (`loki status`, `loki sleep`, ...; see loki.service.control).
    """
    from loki.daemon import Daemon
    from loki.listen.commands import CommandRescorer
    from loki.listen.gate import CommandGate
    from loki.listen.recognizer import Recognizer
    from loki.listen.wake import build_wake
    from loki.tts.replies import ReplyQueue
    from loki.tts.said import SaidRecord

    bus = bus or EventBus()
    if on_event is not None:
        bus.listen(on_event)
    reload = ProfileReload(lambda: load_all_profiles(settings))
    watcher = (  # it looks at the files before they are read, so an edit made meanwhile is still seen
        ProfileWatcher([f for f, _ in profile_folders(settings)], reload, interval_s=profiles_poll_s)
        if watch_profiles
        else None
    )
    profiles = load_all_profiles(settings)
    wake = build_wake(settings)
    holder: dict[str, Daemon] = {}  # the orchestrator's callbacks reach the daemon built after it

    async def listen(timeout_s: float) -> str | None:
        return await holder["daemon"].listen(timeout_s)

    async def interrupt() -> None:
        await holder["daemon"].interrupt("stop")

    replies = ReplyQueue(voice, bus.publish) if voice is not None else None  # the orchestrator's `reply`
    confirm = _spoken_confirm(settings, replies, listen) if replies is not None else None
    extra: dict[str, Any] = {"driver_factory": driver_factory} if driver_factory is not None else {}
    if context is not None:
        extra["context"] = context
    orchestrator = build_orchestrator(
        settings,
        profiles=profiles,
        reply=replies,
        confirm=confirm,
        publish=bus.publish,
        interrupt=interrupt,
        tiers=build_tiers(settings, profiles, reload),
        **extra,
    )
    if transcriber is None and mic is not None:
        transcriber = load_transcriber(settings, stt_vocabulary(settings, profiles, wake))
    gate = CommandGate(
        wake.phrases,
        require_wake=require_wake and wake.kind != "none",
        command_window_s=settings.command_window_s,
        followup_s=settings.followup_s,
    )
    recognizer = None
    if transcriber is not None:
        rescorer = (
            CommandRescorer(
                _rescoring_transcriber(settings, transcriber),
                profiles,
                contradicts=contradicts,
            )
            if rescue_commands and mic is not None
            else None
        )
        said = voice.record if voice is not None else SaidRecord()
        if rescorer is not None:
            reload.follow(rescorer.use)
        recognizer = Recognizer(
            transcriber,
            gate,
            wake,
            said,
            bus.publish,
            rescorer=rescorer,
            language=settings.language,
            complete=says_whole(orchestrator.tiers),
        )

    async def serve_control() -> None:
        await ControlServer(holder["daemon"]).run()

    daemon = Daemon(
        settings.listen,
        orchestrator,
        gate,
        wake,
        bus=bus,
        recognizer=recognizer,
        mic=mic,
        voice=voice,
        replies=replies,
        on_turn=on_turn,
        stages={
            **(stages or {}),
            **({"profiles": watcher.run} if watcher is not None else {}),
            **({"control": serve_control} if control else {}),
        },
        models=models_in_use(settings, orchestrator, wake, transcriber),
    )
    holder["daemon"] = daemon
    return daemon


def says_whole(tiers: list[Tier]) -> Callable[[str, str], bool]:
    """(text, language) -> True when a tier acts on `text` as a complete command (`Tier`'s `says_whole`)."""
    checks = [says for tier in tiers if (says := getattr(tier, "says_whole", None)) is not None]
    return lambda text, language: any(check(text, language) for check in checks)


def models_in_use(
    settings: Settings, orchestrator: Orchestrator, wake: WakeSetup, transcriber: SpeechRecognizer | None
) -> dict[str, str]:
    """The models a daemon uses, as `loki status` shows them (kind -> name)."""
    models = {"wake": wake.kind}
    if transcriber is not None and (stt := getattr(transcriber, "model_name", None)):
        models["stt"] = str(stt)
    if settings.reply_mode != "text":
        models["voice"] = settings.voice or "default"
    for tier in orchestrator.tiers:
        llm = getattr(tier, "llm", None)
        if llm is not None:
            models["llm"] = f"{llm.name} {settings.llm_model}".strip()
    return models


def _rescoring_transcriber(settings: Settings, transcriber: SpeechRecognizer | None) -> Any:
    """The Transcriber whose loaded Whisper model the command rescorer shares (one copy in memory).

    A stand-in transcriber (tests) has no model, so the rescorer gets its own, loaded on first use.
    """
    from loki.stt import Transcriber

    return transcriber if isinstance(transcriber, Transcriber) else Transcriber(settings)


def _spoken_confirm(settings: Settings, voice: Any, listen: Callable[[float], Awaitable[str | None]]) -> SpokenConfirm:
    """A SpokenConfirm, asking with the voice and hearing the answer through `Daemon.listen`."""
    from loki.brain.confirm import SpokenConfirm
    from loki.profiles.normalize import detect_script_language

    async def speak(text: str) -> None:
        await voice(text, detect_script_language(text))

    return SpokenConfirm.from_settings(settings.brain, speak, listen)


def build_voice(settings: Settings, bus: EventBus | None = None) -> SpeechOutput:
    """LOKI's voice (loki.tts): speech, earcons and barge-in on the configured speaker; it publishes `SpeechFinished`."""
    from loki.tts import SpeechOutput

    return SpeechOutput(settings.tts, on_event=bus.publish if bus is not None else None)


def load_transcriber(settings: Settings, vocabulary: list[str]) -> SpeechRecognizer:
    """The configured speech recognizer (loki.stt)."""
    from loki.stt import Transcriber

    return Transcriber(settings, vocabulary=vocabulary)


def stt_vocabulary(settings: Settings, profiles: Any, wake: WakeSetup, *, profile_words: bool = False) -> list[str]:
    """Words that bias recognition: the wake phrase first, then (optionally) the profiles' words.

    The profiles' ~100 words as Whisper hotwords made tiny.en loop ("hey, hey, hey, ...") and miss
    the wake phrase in our measurements, so by default only the wake phrase biases it.
    """
    languages = ("en", "ru") if settings.language == "auto" else (settings.language,)
    words: dict[str, None] = {}
    for phrase in wake.phrases.phrases:
        words.setdefault(phrase.title() if phrase.isascii() else phrase.capitalize())
    if profile_words and profiles is not None:
        for language in languages:
            words.update(dict.fromkeys(profiles.vocabulary(language)))
    return list(words)
