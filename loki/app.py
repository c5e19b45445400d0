"""Wiring: build the orchestrator and its parts from one Settings object."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from loki.actions.apps import AppCatalog
from loki.actions.drivers import InputDriver, PyAutoGuiDriver
from loki.actions.executor import Confirm, Executor
from loki.actions.policy import Policy
from loki.brain.builtin import HelpCommand, SleepCommand
from loki.brain.learn import LearnCommands
from loki.brain.orchestrator import Orchestrator, ReplyFn
from loki.brain.tier0 import LocalCommands
from loki.brain.tiers import Tier
from loki.brain.trace import TraceWriter
from loki.config import Settings
from loki.events import Event
from loki.screen.window import ActiveWindow, active_context
from loki.profiles.loader import ProfileSet, load_profiles, shipped_profiles_dir
from loki.profiles.matcher import Matcher

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


def build_tiers(settings: Settings, profiles: ProfileSet) -> list[Tier]:
    """Tier 0 always; tier 1 when a language-model backend is configured and available."""
    local = LocalCommands(Matcher(profiles))
    # "remember this as <phrase>" (loki.brain.learn) goes first; after learning it reloads tier 0.
    learn = LearnCommands(
        settings.user_profiles_path, local, lambda: load_all_profiles(settings), dry_run=settings.dry_run
    )
    tiers: list[Tier] = [learn, HelpCommand(local), SleepCommand(), local]
    if settings.meaning:
        from loki.brain.meaning import MeaningCommands

        # Between the phrase rules and the language model; dry-run reads the vector cache but never writes it.
        tiers.append(MeaningCommands(local, cache_dir=settings.cache_path, write_cache=not settings.dry_run))
    if settings.llm_backend != "none":
        try:
            from loki.brain.tier1 import build_tier1
        except ImportError:  # the LLM tier is not part of this build
            return tiers
        tier1 = build_tier1(settings, profiles)
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
    """The orchestrator with tier 0 (and later tiers), policy and executor."""
    profiles = profiles if profiles is not None else load_all_profiles(settings)
    policy = Policy(
        AppCatalog(settings.apps_allow),
        dry_run=settings.dry_run,
        step_timeout_s=settings.step_timeout_s,
        plan_timeout_s=settings.plan_timeout_s,
    )
    executor = Executor(
        policy,
        driver_factory=driver_factory,
        volume_max_percent=settings.volume_max_percent,
        volume_turn_max_percent=settings.volume_turn_max_percent,
        screenshot_dir=settings.screenshot_dir,
        confirm=confirm,
        interrupt=interrupt or _cut_voice(reply),
    )
    trace = TraceWriter(
        settings.state_path / "traces" if settings.trace else None,
        max_kb=settings.trace_max_kb,
        typed_text=settings.trace_typed_text,
    )
    tiers = tiers if tiers is not None else build_tiers(settings, profiles)
    return Orchestrator(settings, tiers, executor, trace=trace, reply=reply, publish=publish, context=context)


def _cut_voice(reply: ReplyFn | None) -> Callable[[], Awaitable[None]] | None:
    """The `stop` action without a daemon (`loki say`): cut the voice, if the reply is one."""
    stop = getattr(reply, "interrupt", None)
    return stop if stop is not None else None
