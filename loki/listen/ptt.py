"""Push-to-talk: a global hotkey (hold or toggle), heard on X11 through the RECORD extension.

The key is watched passively (applications still receive it), on its own X connection and
thread; presses come back to the event loop with `call_soon_threadsafe`. X key auto-repeat
(a release immediately followed by a press) is folded into one long hold.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from loki.actions.keysyms import keysym_name
from loki.errors import LokiError

log = logging.getLogger(__name__)


class PttError(LokiError):
    """The push-to-talk key cannot be watched."""

    code = "ptt"


class PushToTalk:
    """Calls `on_start()` when talking begins and `on_stop()` when it ends, per `mode`.

    hold: start on press, stop on release. toggle: each press flips between start and stop.
    Callbacks run on the event loop given to `start()`.
    """

    def __init__(
        self,
        key: str,
        *,
        mode: str = "hold",
        on_start: Callable[[], Any],
        on_stop: Callable[[], Any],
        repeat_gap_s: float = 0.05,
        display: str | None = None,
    ) -> None:
        self.key = key
        self.mode = mode
        self.on_start = on_start
        self.on_stop = on_stop
        self.repeat_gap_s = repeat_gap_s
        self.display_name = display
        self.talking = False
        self._held = False
        self._release_timer: threading.Timer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._record_dpy: Any = None
        self._ctrl_dpy: Any = None
        self._ctx: Any = None
        self._keycode = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # Threads -> loop ---------------------------------------------------------------------
    def _call(self, fn: Callable[[], Any]) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn)

    def _pressed(self) -> None:
        if self._release_timer is not None:  # auto-repeat: release + press in a burst
            self._release_timer.cancel()
            self._release_timer = None
            return
        if self._held:
            return
        self._held = True
        if self.mode == "toggle":
            self._flip()
        elif not self.talking:
            self.talking = True
            self._call(self.on_start)

    def _released(self) -> None:
        if not self._held:
            return

        def really_released() -> None:
            self._release_timer = None
            self._held = False
            if self.mode == "hold" and self.talking:
                self.talking = False
                self._call(self.on_stop)

        self._release_timer = threading.Timer(self.repeat_gap_s, really_released)
        self._release_timer.daemon = True
        self._release_timer.start()

    def _flip(self) -> None:
        self.talking = not self.talking
        self._call(self.on_start if self.talking else self.on_stop)

    # X11 ----------------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Begin watching the key; raises PttError when there is no X display or no RECORD extension."""
        self._loop = loop or asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="loki-ptt", daemon=True)
        self._thread.start()
        if not self._ready.wait(5.0):
            raise PttError("The push-to-talk listener did not start within 5 s.")
        if self._error is not None:
            raise PttError(str(self._error)) from self._error
        log.info("push-to-talk on %r (%s)", self.key, self.mode)

    def _run(self) -> None:
        try:
            from Xlib import XK, X, display
            from Xlib.ext import record
            from Xlib.protocol import rq

            name = self.display_name or os.environ.get("DISPLAY")
            if not name:
                raise PttError("No X display (DISPLAY is not set): push-to-talk needs X11.")
            from loki.actions.drivers import xauthority_fallback  # a server that needs no cookie file

            with xauthority_fallback():
                self._ctrl_dpy = display.Display(name)
                self._record_dpy = display.Display(name)
            if not self._record_dpy.has_extension("RECORD"):
                raise PttError("The X server has no RECORD extension: push-to-talk cannot watch keys.")
            keysym = XK.string_to_keysym(keysym_name(self.key))
            if not keysym:
                raise PttError(f"LOKI_PTT_KEY={self.key!r} is not a key name X knows (try e.g. f9, scrolllock, pause).")
            self._keycode = self._ctrl_dpy.keysym_to_keycode(keysym)
            if not self._keycode:
                raise PttError(f"LOKI_PTT_KEY={self.key!r} is not on this keyboard.")
            self._ctx = self._record_dpy.record_create_context(
                0,
                [record.AllClients],
                [
                    {
                        "core_requests": (0, 0),
                        "core_replies": (0, 0),
                        "ext_requests": (0, 0, 0, 0),
                        "ext_replies": (0, 0, 0, 0),
                        "delivered_events": (0, 0),
                        "device_events": (X.KeyPress, X.KeyRelease),
                        "errors": (0, 0),
                        "client_started": False,
                        "client_died": False,
                    }
                ],
            )
        except BaseException as exc:  # report to start(), then end the thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()

        def on_reply(reply: Any) -> None:
            if reply.category != record.FromServer or reply.client_swapped:
                return
            data = reply.data
            if not data or data[0] < 2:
                return
            while data:
                event, data = rq.EventField(None).parse_binary_value(data, self._record_dpy.display, None, None)
                if event.detail != self._keycode:
                    continue
                if event.type == X.KeyPress:
                    self._pressed()
                elif event.type == X.KeyRelease:
                    self._released()

        try:
            self._record_dpy.record_enable_context(self._ctx, on_reply)  # blocks until disabled
        except Exception as exc:
            log.warning("push-to-talk stopped: %s", exc)
        finally:
            try:
                self._record_dpy.record_free_context(self._ctx)
                self._record_dpy.close()
            except Exception:
                pass

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop watching the key."""
        if self._ctrl_dpy is not None and self._ctx is not None:
            try:
                self._ctrl_dpy.record_disable_context(self._ctx)
                self._ctrl_dpy.flush()
            except Exception as exc:
                log.debug("disabling the record context failed: %s", exc)
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("the push-to-talk thread did not stop within %.1f s", timeout_s)
        if self._ctrl_dpy is not None:
            try:
                self._ctrl_dpy.close()
            except Exception:
                pass
            self._ctrl_dpy = None
        if self._release_timer is not None:
            self._release_timer.cancel()

    def wait_idle(self, timeout_s: float = 1.0) -> None:
        """Wait for a pending release (auto-repeat guard) to settle; for tests."""
        deadline = time.monotonic() + timeout_s
        while self._release_timer is not None and time.monotonic() < deadline:
            time.sleep(0.01)
