"""The control socket: a running LOKI answers `loki status`, `sleep`, `wake`, `mute`, `stop`, `events`, `say --daemon`.

Where: `$XDG_RUNTIME_DIR/loki/control.sock`. When `XDG_RUNTIME_DIR` is not set (no login session,
a bare container), the folder is `/tmp/loki-<uid>/` instead, and the server says so in its log.
The folder is 0700 and must belong to the user; the socket is 0600, and each connection's peer is
checked with `SO_PEERCRED`: a process of another user (root included) is refused.

The protocol is JSON lines. The client sends one request object per line, `{"op": NAME, ...}`:

    status | sleep | wake | mute | unmute | stop      -> {"ok": true, ...the daemon's status}
    say {"text": TEXT}                               -> {"ok": true, "turn": TurnResult JSON}
    events                                           -> {"ok": true}, then one object per event

An error is `{"ok": false, "error": CODE, "message": TEXT}`. An event line is the event's fields
with `type` (its class name) and `time` (wall clock, ISO 8601); audio is given as its length
(`audio_s`), never its samples. While no event comes, a `{"keepalive": true}` line is sent every
`KEEPALIVE_S`, so both sides can put a deadline on every read and write.

This module knows nothing of the daemon: the server drives anything that fits `Controlled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import socket
import stat
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from loki.errors import LokiError
from loki.events import Event, EventBus
from loki.private import DIR_MODE, FILE_MODE, private_dir

log = logging.getLogger(__name__)

SOCKET_NAME = "control.sock"
REQUEST_TIMEOUT_S = 10.0
"""Seconds a connection may stay silent before its next request line (the server then hangs up)."""
WRITE_TIMEOUT_S = 5.0
"""Seconds a reply line may take to be taken by the reader (a stuck reader is dropped)."""
REPLY_TIMEOUT_S = 10.0
"""Seconds the client waits for the reply to a quick request (status, sleep, ...)."""
TURN_TIMEOUT_S = 180.0
"""Seconds a `say` may take (a turn can wait for the user to confirm a step)."""
KEEPALIVE_S = 5.0
"""While following events, a keepalive line is sent after this long without an event."""
MAX_LINE_BYTES = 64 * 1024
"""The longest request line accepted."""
NOT_RUNNING = "LOKI is not running: start it with 'loki run' or 'loki service install'"

OPS = ("status", "sleep", "wake", "mute", "unmute", "stop", "say", "events")


class ControlError(LokiError):
    """The control socket could not be used (set up, reached, or understood)."""

    code = "control"


class NotRunning(ControlError):
    """No LOKI answers on the control socket."""

    code = "not_running"

    def __init__(self, path: Path) -> None:
        super().__init__(NOT_RUNNING)
        self.path = path


class Controlled(Protocol):
    """What the control socket drives: the running daemon (`loki.daemon.Daemon`)."""

    bus: EventBus

    def status(self) -> dict[str, Any]:
        """State, sleep, mute, uptime, microphone, models, the last turn."""
        ...

    def sleep(self) -> None:
        """Sleep: only "wake up" or push-to-talk is heard."""
        ...

    def wake_up(self) -> None:
        """End sleep."""
        ...

    def mute(self) -> None:
        """Stop hearing the microphone at all."""
        ...

    def unmute(self) -> None:
        """Hear the microphone again."""
        ...

    async def interrupt(self, reason: str = "stop", *, plan: bool = True) -> None:
        """The `stop` action: cut LOKI's speech and cancel the running plan."""
        ...

    async def run_command(self, text: str) -> dict[str, Any]:
        """Route `text` as a turn of the running daemon; its TurnResult JSON."""
        ...


# Where the socket lives ------------------------------------------------------------------------
def socket_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_RUNTIME_DIR/loki/control.sock`, or `/tmp/loki-<uid>/control.sock` when it is not set."""
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR", "")
    folder = Path(runtime) / "loki" if runtime else Path("/tmp") / f"loki-{os.getuid()}"
    return folder / SOCKET_NAME


def own_folder(folder: Path) -> Path:
    """Create `folder` as 0700, then make sure it is a real folder that belongs to us with no access for others.

    Under /tmp anyone could have made the folder first (or a link in its place): then it is refused.
    """
    private_dir(folder)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise ControlError(f"{folder} is not a folder of this user: remove it, or set XDG_RUNTIME_DIR")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, DIR_MODE)
    return folder


def peer_credentials(sock: Any) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket (`SO_PEERCRED`, Linux)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return pid, uid, gid


def peer_uid(sock: Any) -> int | None:
    """The uid at the other end of a Unix socket: `SO_PEERCRED` on Linux, `LOCAL_PEERCRED` on macOS/BSD; None if unknown."""
    if hasattr(socket, "SO_PEERCRED"):
        return peer_credentials(sock)[1]
    local_peercred = getattr(socket, "LOCAL_PEERCRED", 0x001)  # struct xucred: u_int version, uid_t uid, ...
    try:
        raw = sock.getsockopt(0, local_peercred, struct.calcsize("2I"))
    except OSError:
        return None
    return int(struct.unpack("2I", raw[: struct.calcsize("2I")])[1])


def peer_allowed(sock: Any, uid: int | None = None) -> bool:
    """True when the peer runs as `uid` (default: our own user); nobody else may drive LOKI (unknown: refused)."""
    return peer_uid(sock) == (os.getuid() if uid is None else uid)


# Events as JSON --------------------------------------------------------------------------------
def event_json(event: Event, *, now_s: float | None = None, monotonic_s: float | None = None) -> dict[str, Any]:
    """One event as a JSON object: `time` (wall clock, ISO 8601), `type`, its fields; audio as `audio_s`."""
    now_s = time.time() if now_s is None else now_s
    monotonic_s = time.monotonic() if monotonic_s is None else monotonic_s
    wall_s = now_s - (monotonic_s - event.at)
    out: dict[str, Any] = {
        "time": datetime.fromtimestamp(wall_s).astimezone().isoformat(timespec="milliseconds"),
        "type": type(event).__name__,
    }
    values = {f.name: getattr(event, f.name) for f in dataclasses.fields(event) if f.name != "at"}
    for name, value in values.items():
        if isinstance(value, bytes | bytearray):
            if name == "audio":  # 16-bit mono PCM
                out["audio_s"] = round(len(value) / 2 / int(values.get("sample_rate_hz") or 16000), 3)
            else:
                out[f"{name}_bytes"] = len(value)
        else:
            out[name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _line(obj: Mapping[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8") + b"\n"


# The server --------------------------------------------------------------------------------------
class ControlServer:
    """Serves the control socket for one daemon until cancelled (a supervised stage of the daemon).

    Args:
        target: the daemon it drives.
        path: the socket (default: `socket_path()`).
    """

    def __init__(self, target: Controlled, path: Path | None = None) -> None:
        self.target = target
        self._default_path = path is None
        self.path = path or socket_path()
        self._clients: dict[asyncio.StreamWriter, asyncio.Task[Any] | None] = {}

    async def run(self) -> None:
        """Listen on the socket; on the way out close every connection and remove the socket.

        Returns at once (logging why) when the socket cannot be made, or another LOKI answers on it.
        """
        if self._default_path and not os.environ.get("XDG_RUNTIME_DIR"):
            log.warning("XDG_RUNTIME_DIR is not set: the control socket is %s", self.path)
        try:
            own_folder(self.path.parent)
            if not await self._claim():
                return
            server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_LINE_BYTES)
        except (ControlError, OSError) as exc:  # it would fail the same way again: no restart
            log.error("no control socket ('loki status' will not reach this LOKI): %s", exc)
            return
        os.chmod(self.path, FILE_MODE)  # the folder is 0700 already: nobody else could reach it meanwhile
        inode = self.path.stat().st_ino
        log.info("control socket %s ('loki status' talks to it)", self.path)
        try:
            await server.serve_forever()
        finally:
            server.close()
            for writer, task in list(self._clients.items()):
                writer.close()
                if task is not None and task is not asyncio.current_task():
                    task.cancel()
            with contextlib.suppress(FileNotFoundError):
                if self.path.stat().st_ino == inode:  # not a newer daemon's socket
                    self.path.unlink()

    async def _claim(self) -> bool:
        """Take the socket path: False when another LOKI answers there, else a stale socket is removed."""
        if not self.path.exists() and not self.path.is_symlink():
            return True
        try:
            _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(self.path)), REPLY_TIMEOUT_S)
        except (ConnectionRefusedError, FileNotFoundError, TimeoutError):
            log.info("removing the stale control socket %s", self.path)
            self.path.unlink(missing_ok=True)
            return True
        writer.close()
        log.error("another LOKI already answers on %s: this one runs without a control socket", self.path)
        return False

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients[writer] = asyncio.current_task()
        try:
            sock = writer.get_extra_info("socket")
            if sock is None or not peer_allowed(sock):
                pid, uid, _ = peer_credentials(sock) if sock is not None else (0, -1, 0)
                log.warning("refused a control connection from uid %d (pid %d)", uid, pid)
                await self._send(writer, _error("forbidden", "this LOKI belongs to another user"))
                return
            while (raw := await self._read(reader)) is not None:
                request = _parse(raw)
                if "error" in request:
                    await self._send(writer, request)
                elif request["op"] == "events":
                    await self._follow(writer)
                    return
                else:
                    await self._send(writer, await self._answer(request))
        except (ConnectionError, TimeoutError):
            pass  # the client went away, or stopped reading
        finally:
            self._clients.pop(writer, None)
            writer.close()

    @staticmethod
    async def _read(reader: asyncio.StreamReader) -> bytes | None:
        """The next request line; None at the end of the connection or when it stayed silent too long."""
        try:
            raw = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT_S)
        except TimeoutError:
            return None
        except ValueError:  # longer than MAX_LINE_BYTES: the stream cannot be read on from here
            return None
        return raw or None

    async def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op, target = request["op"], self.target
        try:
            if op == "say":
                turn = await asyncio.wait_for(target.run_command(request["text"]), TURN_TIMEOUT_S)
                return {"ok": True, "turn": turn}
            if op == "stop":
                await asyncio.wait_for(target.interrupt("stop"), REPLY_TIMEOUT_S)
            elif op == "sleep":
                target.sleep()
            elif op == "wake":
                target.wake_up()
            elif op == "mute":
                target.mute()
            elif op == "unmute":
                target.unmute()
            return {"ok": True, **target.status()}
        except TimeoutError:
            return _error("timeout", f"LOKI did not finish '{op}' in time")
        except LokiError as exc:
            return _error(exc.code, str(exc))
        except Exception as exc:  # the daemon's bug: answer it, and keep serving
            log.exception("control request %r failed", op)
            return _error("internal", f"LOKI failed to do '{op}': {exc} (see its log)")

    async def _follow(self, writer: asyncio.StreamWriter) -> None:
        """Send every event from now on until the bus ends or the reader goes away."""
        queue = self.target.bus.subscribe()
        try:
            await self._send(writer, {"ok": True})
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await self._send(writer, {"keepalive": True})
                    continue
                if event is None:
                    return
                await self._send(writer, event_json(event))
        finally:
            self.target.bus.unsubscribe(queue)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, obj: Mapping[str, Any]) -> None:
        writer.write(_line(obj))
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT_S)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": code, "message": message}


def _parse(raw: bytes) -> dict[str, Any]:
    """A request object with a known `op` (and the `text` of a `say`), else the error reply to send."""
    try:
        request = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):  # (JSONDecodeError is a ValueError)
        request = None
    if not isinstance(request, dict) or request.get("op") not in OPS:
        return _error("bad_request", f"send one JSON object per line, with 'op' one of: {', '.join(OPS)}")
    if request["op"] == "say":
        text = request.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error("bad_request", "'say' needs a non-empty 'text'")
        request["text"] = text.strip()
    return request


def _check_folder(folder: Path) -> None:
    """Refuse a socket folder another user made (under /tmp anyone could have made it first)."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return  # nothing there: NotRunning follows
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o022:
        raise ControlError(f"{folder} is not a private folder of this user: not talking to what is in it")


# The client --------------------------------------------------------------------------------------
class ControlClient:
    """One connection to a running LOKI; every read and write has a deadline.

    Raises `NotRunning` when nothing answers at `path` (default: `socket_path()`).
    """

    def __init__(self, path: Path | None = None, *, timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self.path = path or socket_path()
        _check_folder(self.path.parent)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(str(self.path))
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError) as exc:
            self._sock.close()
            raise NotRunning(self.path) from exc
        except PermissionError as exc:
            self._sock.close()
            raise ControlError(f"{self.path} belongs to another user: LOKI only answers its own user") from exc
        except OSError as exc:
            self._sock.close()
            raise ControlError(f"cannot reach LOKI at {self.path}: {exc}") from exc
        if not peer_allowed(self._sock):
            self._sock.close()
            raise ControlError(f"{self.path} is served by another user's program: not talking to it")
        self._file = self._sock.makefile("rb")

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Hang up."""
        self._file.close()
        self._sock.close()

    def send(self, obj: Mapping[str, Any]) -> None:
        """Send one request line."""
        try:
            self._sock.sendall(_line(obj))
        except TimeoutError as exc:
            raise ControlError("LOKI did not take the request in time") from exc
        except OSError as exc:
            raise ControlError(f"LOKI hung up: {exc}") from exc

    def receive(self, timeout_s: float | None = None) -> dict[str, Any] | None:
        """The next reply line (None when LOKI hung up); `ControlError` when none comes in `timeout_s`."""
        if timeout_s is not None:
            self._sock.settimeout(timeout_s)
        try:
            raw = self._file.readline(MAX_LINE_BYTES * 16)
        except TimeoutError as exc:
            raise ControlError("LOKI did not answer in time: it may be stuck (see its log)") from exc
        except OSError as exc:
            raise ControlError(f"LOKI hung up: {exc}") from exc
        if not raw:
            return None
        try:
            reply = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ControlError(f"LOKI answered something that is not JSON: {raw[:80]!r}") from exc
        if not isinstance(reply, dict):
            raise ControlError(f"LOKI answered something that is not a JSON object: {raw[:80]!r}")
        return reply

    def request(self, op: str, *, timeout_s: float = REPLY_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
        """Send one request and return its reply; a refusal or error reply raises `ControlError`."""
        self.send({"op": op, **fields})
        reply = self.receive(timeout_s)
        if reply is None:
            raise ControlError("LOKI hung up without answering")
        if not reply.get("ok"):
            raise ControlError(str(reply.get("message") or reply), code=str(reply.get("error") or "control"))
        return reply

    def events(self, on_ready: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
        """Every event from now on, until LOKI stops; `on_ready` is called once the stream has started."""
        self.request("events")
        if on_ready is not None:
            on_ready()
        while (line := self.receive(KEEPALIVE_S * 3)) is not None:
            if "type" in line:
                yield line


def request(op: str, *, path: Path | None = None, timeout_s: float = REPLY_TIMEOUT_S, **fields: Any) -> dict[str, Any]:
    """Send one request to the running LOKI and return its reply (`NotRunning` when there is none)."""
    with ControlClient(path, timeout_s=timeout_s) as client:
        return client.request(op, timeout_s=timeout_s, **fields)
