"""systemd's notify protocol without libsystemd: readiness, status, watchdog pings and stopping.

sd_notify(3): a message is newline-separated `KEY=VALUE` lines in one datagram, sent to the AF_UNIX socket
named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). systemd sets it for a
`Type=notify` service, and `$WATCHDOG_USEC` when the unit has `WatchdogSec=`. Without `$NOTIFY_SOCKET`
every call does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import MutableMapping

from loki.events import Event, MicrophoneChanged, StateChanged

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages to systemd; a no-op when LOKI was not started as a `Type=notify` service.

    Args:
        address: `$NOTIFY_SOCKET` (None: not under systemd).
        watchdog_usec: `$WATCHDOG_USEC`, the watchdog timeout in microseconds (0: no watchdog).
    """

    def __init__(self, address: str | None, watchdog_usec: int = 0) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec if self.address else 0
        self._socket: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environment(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for; takes its variables out of the environment so that the apps LOKI
        launches do not inherit them (as sd_notify's `unset_environment` does)."""
        env = os.environ if environ is None else environ
        address = env.pop("NOTIFY_SOCKET", None)
        usec, pid = env.pop("WATCHDOG_USEC", ""), env.pop("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())  # the watchdog is meant for this process
        return cls(address, int(usec) if usec.isdigit() and mine else 0)

    @property
    def enabled(self) -> bool:
        """True when systemd listens."""
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """Seconds between `WATCHDOG=1` pings: half the timeout, as sd_watchdog_enabled(3) advises (None: no watchdog)."""
        return self.watchdog_usec / 2_000_000 if self.watchdog_usec > 0 else None

    def send(self, *lines: str) -> bool:
        """Send one message (`KEY=VALUE` lines); False when it could not be sent or nobody listens."""
        if self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.setblocking(False)  # called on the event loop: never wait for systemd
            self._socket.sendto("\n".join(lines).encode("utf-8"), target)
        except OSError as exc:
            (log.debug if self._warned else log.warning)("could not tell systemd %s: %s", lines[0], exc)
            self._warned = True  # once: the watchdog would repeat it every few seconds
            return False
        return True

    def ready(self, status: str) -> bool:
        """`READY=1`: the models are loaded and LOKI takes commands."""
        return self.send("READY=1", _status(status))

    def status(self, text: str) -> bool:
        """`STATUS=`: what `systemctl status loki` shows."""
        return self.send(_status(text))

    def stopping(self) -> bool:
        """`STOPPING=1`: LOKI is on its way out."""
        return self.send("STOPPING=1", _status("stopping"))

    async def watchdog(self) -> None:
        """Ping systemd's watchdog until cancelled; run it as a supervised stage, so a hung event loop stops the
        pings and systemd restarts LOKI."""
        interval_s = self.watchdog_interval_s
        if interval_s is None:
            return
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(interval_s)

    def close(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status(text: str) -> str:
    return "STATUS=" + " ".join(text.split())  # one line


class StatusReporter:
    """Keeps systemd's `STATUS=` current as the daemon's state and the microphone change (a bus listener).

    Args:
        notifier: where the status goes.
        microphone: what to say about the microphone until it reports (e.g. "commands from stdin").
    """

    def __init__(self, notifier: Notifier, microphone: str = "opening the microphone") -> None:
        self.notifier = notifier
        self.state = "loading the models"
        self.microphone = microphone
        self._sent = ""

    def line(self) -> str:
        """The status line: the state, then the microphone."""
        return f"{self.state}; {self.microphone}"

    def report(self) -> None:
        """Send the status line unless it is the one sent last (a microphone failing the same way is said once)."""
        if self.line() != self._sent:
            self._sent = self.line()
            self.notifier.status(self._sent)

    def __call__(self, event: Event) -> None:
        if isinstance(event, StateChanged):
            self.state = event.new.value
        elif isinstance(event, MicrophoneChanged) and (microphone := microphone_status(event)) is not None:
            self.microphone = microphone
        else:
            return
        self.report()

    def ready(self, state: str) -> bool:
        """Send `READY=1` with the status line, the daemon being in `state`."""
        self.state = state
        self._sent = self.line()
        return self.notifier.ready(self._sent)


def microphone_status(event: MicrophoneChanged) -> str | None:
    """The microphone part of the status line (None: no change, e.g. another attempt to open a lost one)."""
    if event.state == "open":
        return f"listening on {event.detail!r}"
    if event.state == "lost":
        return f"no microphone ({event.detail}); run `loki doctor`, set LOKI_MIC_DEVICE"
    if event.state == "closed":
        return "microphone closed"
    return None
