"""Files only the user can read: 0600 files in 0700 folders, whatever the umask says."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path, *, fix: bool = True) -> Path:
    """Create `path` (and missing parents) as 0700 folders; with `fix`, take group/other access from it if it exists."""
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        if here.parent == here:
            break
        here = here.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another process made it meanwhile
            pass
        else:
            os.chmod(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    if fix and path not in missing:
        _tighten(path, DIR_MODE)
    return path


def open_private(path: Path, *, append: bool = False) -> IO[str]:
    """Open a UTF-8 text file for writing as 0600; an existing file with a looser mode is tightened first."""
    fd = _open(path, os.O_APPEND if append else os.O_TRUNC)
    return os.fdopen(fd, "a" if append else "w", encoding="utf-8")


def write_private_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` as a 0600 file."""
    with os.fdopen(_open(path, os.O_TRUNC), "wb") as f:
        f.write(data)


def _open(path: Path, flags: int) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, FILE_MODE)
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)  # made by someone else, or the umask took bits from it
    except BaseException:
        os.close(fd)
        raise
    return fd


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        os.chmod(path, current & mode)
