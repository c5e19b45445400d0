"""Profiles reload when a file changes: a poll of the profile files, and the one way to load them again.

`ProfileReload` loads every profile again and hands the new rules to everything that holds them
(tier 0, the command rescorer); a broken file raises `ProfileError` and nobody is told, so the old
rules stay in force. Learned commands ("remember this as ...") reload through it too.

`ProfileWatcher` looks at the profile files' size and modification time every second or so (no
inotify: nothing to install, and it works on any file system); when they have changed and stayed
the same for one more look, it reloads. A broken edit is logged once, with its file and line.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from loki.errors import ProfileError
from loki.profiles.loader import ProfileSet, profile_files

log = logging.getLogger(__name__)

POLL_S = 1.0
"""Seconds between two looks at the profile files."""

Stamps = dict[str, tuple[int, int, int]]


def file_stamps(folders: Iterable[Path]) -> Stamps:
    """Every profile file in the folders with its (modification time in ns, size, inode)."""
    stamps: Stamps = {}
    for folder in folders:
        for path, _language in profile_files(folder):
            try:
                st = os.stat(path)
            except OSError:  # deleted between the listing and the look
                continue
            stamps[str(path)] = (st.st_mtime_ns, st.st_size, st.st_ino)
    return stamps


class ProfileReload:
    """Loads the profiles again and gives every holder of the rules the new set, or (a broken file) none of them.

    Args:
        load: reads every profile; raises `ProfileError` naming the file and line of a bad one.
    """

    def __init__(self, load: Callable[[], ProfileSet]) -> None:
        self._load = load
        self._holders: list[Callable[[ProfileSet], None]] = []
        self._lock = threading.Lock()  # a learned command and a file change may reload at once

    def follow(self, use: Callable[[ProfileSet], None]) -> None:
        """Call `use` with the new rules after every successful reload."""
        self._holders.append(use)

    def __call__(self) -> ProfileSet:
        """Load and hand over the new rules (blocking); `ProfileError` leaves every holder with the old ones."""
        with self._lock:
            profiles = self._load()
            for use in self._holders:
                use(profiles)
        rules = sum(len(rules) for rules in profiles.rules.values())
        log.info("profiles reloaded: %d rules from %d files", rules, len(profiles.files))
        return profiles


class ProfileWatcher:
    """A daemon stage: reloads the profiles when their files change (added, edited or deleted).

    Args:
        folders: the profile folders (a folder that does not exist yet is watched for its first file).
        reload: loads and hands over the new rules; raises `ProfileError` for a broken file.
        interval_s: seconds between two looks at the files.
    """

    def __init__(self, folders: Iterable[Path], reload: Callable[[], object], *, interval_s: float = POLL_S) -> None:
        self.folders = list(folders)
        self.reload = reload
        self.interval_s = interval_s
        self._loaded = file_stamps(self.folders)  # what the rules in force were read from
        self._error = ""  # the last broken edit reported (each is logged once)

    async def run(self) -> None:
        """Look at the files every `interval_s` until cancelled; reload once a change has settled."""
        seen = self._loaded
        while True:
            await asyncio.sleep(self.interval_s)
            now = await asyncio.to_thread(file_stamps, self.folders)
            settled, seen = now == seen, now
            if settled and now != self._loaded:
                await asyncio.to_thread(self._reload, now)

    def _reload(self, stamps: Stamps) -> None:
        """Reload the rules read from files with these stamps; a broken file keeps the old rules."""
        self._loaded = stamps  # a later change is seen against these stamps, whatever the outcome
        try:
            self.reload()
        except ProfileError as exc:
            if str(exc) != self._error:
                log.warning("profiles not reloaded, the old rules stay in force: %s", exc)
            self._error = str(exc)
        else:
            self._error = ""
