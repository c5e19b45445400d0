"""Where LOKI's log lines go: stderr always, in journald's form under systemd, and a rotating file when nobody
reads stderr as it is written.

- Under systemd (`$JOURNAL_STREAM` names stderr): `<6>loki.daemon: message`, the sd-daemon(3) priority
  prefix and no timestamp of our own (the journal keeps its own and filters by priority).
- Otherwise `2026-01-02 10:00:00,123 INFO loki.daemon: message`; and when `loki run` has no terminal, no journal
  and no file on stderr (started from an autostart entry, `2>/dev/null`, a pipe), the same lines also go to
  `$XDG_STATE_HOME/loki/loki.log` (mode 0600; 1 MB, three old files kept).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
from pathlib import Path
from typing import IO, Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(name)s: %(message)s"
LOG_FILE_NAME = "loki.log"
LOG_FILE_BYTES = 1_000_000
"""A log file is rotated at this size."""
LOG_FILES_KEPT = 3
"""Rotated log files kept (loki.log.1 ... loki.log.3)."""


def journal_priority(levelno: int) -> int:
    """The sd-daemon(3) priority of a logging level: 2 critical, 3 error, 4 warning, 6 info, 7 debug."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    return 6 if levelno >= logging.INFO else 7


class JournalFormatter(logging.Formatter):
    """`<N>name: message`; every line of a traceback carries the prefix, so none is logged at the wrong priority."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{journal_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log file only its owner can read (commands and window titles are private)."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        os.fchmod(fd, 0o600)  # a file left by an older version keeps no wider mode
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def is_journal(stream: IO[str]) -> bool:
    """True when `stream` is the journal's socket: systemd puts its device and inode in `$JOURNAL_STREAM`."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # closed, or not a real file
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def nobody_reads(stream: IO[str]) -> bool:
    """True when `stream` is not a terminal, the journal or a file: what is written to it is not kept."""
    try:
        if stream.isatty():
            return False
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return True
    return not stat.S_ISREG(mode) and not is_journal(stream)


def configure_logging(level: int, stream: IO[str], *, log_dir: Path | None = None) -> Path | None:
    """Log to `stream` (journald's form when it is the journal) and, with `log_dir`, to a rotating file there.

    Returns the log file's path (None: no file, or it could not be opened, which is logged).
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if is_journal(stream) else logging.Formatter(FORMAT))
    handlers: list[logging.Handler] = [handler]
    path, problem = None, None
    if log_dir is not None:
        path = log_dir / LOG_FILE_NAME
        try:
            log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            file_handler = PrivateRotatingFileHandler(
                path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILES_KEPT, encoding="utf-8"
            )
        except OSError as exc:
            path, problem = None, exc
        else:
            file_handler.setFormatter(logging.Formatter(FORMAT))
            handlers.append(file_handler)
    logging.basicConfig(level=level, handlers=handlers)
    if problem is not None:
        logging.getLogger(__name__).warning("no log file: %s", problem)
    return path
