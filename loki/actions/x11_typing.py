"""Typing any Unicode text on X11 by mapping its characters onto spare keycodes.

pyautogui types only what the current keymap has, and `xdotool type` remaps one scratch keycode
per character, which races with the receiving app's keymap refresh (characters go missing).
Here every distinct character of a batch gets its own spare keycode, the app is given a moment
to see the new mapping, the batch is typed with XTest, and the old mapping is put back.
"""

from __future__ import annotations

import time
from typing import Any

from loki.actions.keysyms import X_KEYSYMS
from loki.errors import ActionError

_SPECIAL = {"\n": X_KEYSYMS["enter"], "\t": X_KEYSYMS["tab"]}  # characters typed as keys
_SETTLE_S = 0.05  # time for clients to process MappingNotify before the first key


def _keysym(ch: str) -> int:
    code = ord(ch)
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF:
        return code  # Latin-1 keysyms equal their code points
    return 0x01000000 | code  # the Unicode keysym range


class X11Typist:
    """Types text through XTest on the current DISPLAY."""

    def __init__(self, char_delay_s: float = 0.004) -> None:
        try:
            from Xlib import XK, X, display
            from Xlib.ext import xtest
        except ImportError as exc:  # python-xlib comes with pyautogui on Linux
            raise ActionError("Typing on X11 needs python-xlib: pip install python-xlib") from exc
        from loki.actions.drivers import desktop_unreachable, xauthority_fallback

        self._X, self._XK, self._xtest = X, XK, xtest
        try:
            with xauthority_fallback():
                self._display: Any = display.Display()
        except Exception as exc:  # DisplayNameError, DisplayConnectionError
            raise desktop_unreachable(exc) from exc
        self.char_delay_s = char_delay_s
        info = self._display.display.info
        self._min_kc, self._max_kc = info.min_keycode, info.max_keycode

    def close(self) -> None:
        """Close the X connection without waiting on the server (it may have gone away mid-text)."""
        from loki.actions.drivers import drop_x_connection

        drop_x_connection(self._display)

    def _spare_keycodes(self) -> list[int]:
        mapping = self._display.get_keyboard_mapping(self._min_kc, self._max_kc - self._min_kc + 1)
        return [self._min_kc + i for i, syms in enumerate(mapping) if not any(syms)]

    def _tap(self, keycode: int) -> None:
        self._xtest.fake_input(self._display, self._X.KeyPress, keycode)
        self._xtest.fake_input(self._display, self._X.KeyRelease, keycode)
        self._display.sync()
        time.sleep(self.char_delay_s)

    def type(self, text: str) -> None:
        """Type `text` exactly, in batches of as many distinct characters as there are spare keycodes."""
        spare = self._spare_keycodes()
        if not spare:
            raise ActionError("The X keymap has no spare keycodes to type this text with.")
        i = 0
        while i < len(text):
            batch: dict[str, int] = {}
            j = i
            while j < len(text) and (text[j] in batch or text[j] in _SPECIAL or len(batch) < len(spare)):
                if text[j] not in _SPECIAL and text[j] not in batch:
                    batch[text[j]] = spare[len(batch)]
                j += 1
            self._map(batch)
            try:
                time.sleep(_SETTLE_S)
                for ch in text[i:j]:
                    if ch in _SPECIAL:
                        keycode = self._display.keysym_to_keycode(self._XK.string_to_keysym(_SPECIAL[ch]))
                    else:
                        keycode = batch[ch]
                    self._tap(keycode)
                time.sleep(_SETTLE_S)
            finally:
                self._map({ch: kc for ch, kc in zip(batch, batch.values(), strict=True)}, clear=True)
            i = j

    def _map(self, batch: dict[str, int], *, clear: bool = False) -> None:
        per_keycode = self._display.get_keyboard_mapping(self._min_kc, 1)
        width = len(per_keycode[0]) if per_keycode else 2
        for ch, keycode in batch.items():
            sym = 0 if clear else _keysym(ch)
            self._display.change_keyboard_mapping(keycode, [[sym] * width])
        self._display.sync()
