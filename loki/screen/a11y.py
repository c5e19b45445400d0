"""The accessibility stage of the cascade: named controls of the active window over AT-SPI2 (D-Bus).

The cheapest and surest source when an app speaks AT-SPI (GTK, Qt, Firefox, LibreOffice): names, roles
and states come from the toolkit, not from pixels. One connection to the accessibility bus lives in a
private asyncio loop on a daemon thread, so the synchronous `find` (called from a worker thread) pays
only for the calls, which are sent a tree level at a time and answered concurrently.

Boxes are made screen pixels here, per toolkit (`loki.screen.coords`): GTK3 under GDK_SCALE reports
logical pixels; GTK4 reports boxes relative to its toplevel (and, without a compositor, inset by its
resize border). Password fields keep the role "password text" and are never read; `secret_boxes`
says where they are so a screenshot can be blacked out before it leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Coroutine, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from loki.errors import ScreenError
from loki.screen.coords import Box, logical_to_screen, toolkit_scale, window_relative_to_screen
from loki.screen.ground import MATCH, Candidate, Target, Window, label_score, reading_order

T = TypeVar("T")

NODE_CAP = 3000
ROLE_ONLY = 0.9
"""The score of a control asked for by role and position only ("the second link")."""
"""At most this many accessibles are looked at in one walk (a spreadsheet can expose millions)."""
IN_FLIGHT = 64
"""Calls sent before their replies come: dbus-fast 5.2 fails a call whose send meets a full socket
(BlockingIOError) instead of waiting, which a whole tree level sent at once can cause."""
DISABLED = 0.7
"""A greyed-out control's score is multiplied by this: still found (to say it is disabled), never sure."""
APP_REGISTERS_S = 2.0
"""How long a just-started app may take to join the AT-SPI bus (it shows its window first)."""
JUST_STARTED_S = 10.0
"""An app started this recently may not have joined the bus yet; older ones that have not never will."""

_ROOT = "/org/a11y/atspi/accessible/root"
_ACCESSIBLE = "org.a11y.atspi.Accessible"
_COMPONENT = "org.a11y.atspi.Component"
_PROPERTIES = "org.freedesktop.DBus.Properties"
_SCREEN = 0
_LABELLED_BY = 2
_NO_BUS = (
    "start at-spi2-core (the desktop's accessibility: GNOME and KDE start it; elsewhere run "
    "/usr/libexec/at-spi-bus-launcher --launch-immediately in the session)"
)

_STATES = (
    "invalid", "active", "armed", "busy", "checked", "collapsed", "defunct", "editable", "enabled",
    "expandable", "expanded", "focusable", "focused", "has-tooltip", "horizontal", "iconified", "modal",
    "multi-line", "multiselectable", "opaque", "pressed", "resizable", "selectable", "selected", "sensitive",
    "showing", "single-line", "stale", "transient", "vertical", "visible", "manages-descendants",
    "indeterminate", "required", "truncated", "animated", "invalid-entry", "supports-autocompletion",
    "selectable-text", "is-default", "visited", "checkable", "has-popup", "read-only",
)  # fmt: skip
"""AtspiStateType, in order: bit i of GetState's two words is state i."""

_TOPLEVELS = {"frame", "dialog", "window", "alert", "file chooser", "color chooser", "font chooser"}
_TEXTUAL = {"label", "text", "text box", "entry", "paragraph", "heading", "static", "caption", "editbar", "terminal"}
"""Roles whose content is their text: read with Text.GetText when they have no name."""
_LABELLED = {"text", "entry", "combo box", "spin button", "slider", "password text", "editbar", "list", "tree"}
"""Roles named by another object (a label beside an entry): their label-by relation is read when unnamed."""
_ROLE_WORDS = {
    "checkbox": "check box",
    "tickbox": "check box",
    "textbox": "text",
    "field": "text",
    "text field": "text",
    "input": "text",
    "edit": "text",
    "entry": "text",
    "tab": "page tab",
    "radio": "radio button",
    "dropdown": "combo box",
    "combobox": "combo box",
    "hyperlink": "link",
    "password": "password text",
}
_ROLE_NAMES = {"button": "push button"}
"""GTK4's role names -> ATK's, so a role reads the same in every toolkit."""
_TEXT_ROLES = {"text", "entry", "password text", "editbar", "spin button", "text box"}
_TYPE_NAME = re.compile(r"^(?:Gtk|Adw|Gdk|Gs|Hdy)?[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+$")


def role_matches(asked: str, role: str) -> bool:
    """Whether an accessible's role answers to the role asked for, tolerantly.

    "button" is a push, toggle or radio button; "menu" a menu or any menu item; "checkbox" a check box
    (or a check menu item); "text field" any text entry.
    """
    asked = " ".join(asked.casefold().replace("_", " ").replace("-", " ").split())
    if not asked:
        return True
    asked = _ROLE_WORDS.get(asked, asked)
    role = role.casefold()
    if asked == "text":
        return role in _TEXT_ROLES
    words = role.split()
    return all(word in words for word in asked.split())


@dataclass(frozen=True)
class _App:
    """An application on the accessibility bus and how to read its boxes."""

    bus_name: str
    pid: int
    gtk4: bool
    scale: float


@dataclass
class _Node:
    """One accessible as walked."""

    ref: tuple[str, str]
    role: str
    name: str
    states: frozenset[str]
    children: list[tuple[str, str]]
    owner: _Node | None = None
    """The nearest named ancestor (a button, for the label or icon inside it)."""
    box: Box | None = None

    @property
    def covered(self) -> bool:
        """Whether this is only the inside of its owner: unnamed, or named as it is (a button's own label)."""
        return self.owner is not None and (not self.name.strip() or label_score(self.name, self.owner.name) == 1.0)


class _Gone(Exception):
    """An accessible or application went away during a call (a dialog closed)."""


class AccessibilityFinder:
    """Finds named controls in the active window's app over AT-SPI2; one bus connection, opened on first use."""

    source = "a11y"

    def __init__(self, *, session_bus: str = "", node_cap: int = NODE_CAP, connect_timeout_s: float = 3.0) -> None:
        """`session_bus`: the D-Bus session bus address (default: DBUS_SESSION_BUS_ADDRESS at first use)."""
        self.session_bus = session_bus
        self.node_cap = node_cap
        self.connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._bus: Any = None
        self._apps: dict[str, _App] = {}
        self._roles: dict[tuple[str, int], str] = {}
        self._in_flight: asyncio.Semaphore | None = None

    # The public stage ---------------------------------------------------------------------------

    def find(self, target: Target, window: Window, deadline: float) -> list[Candidate]:
        """Candidates for `target` among the showing objects of `window`, best first; [] when none."""
        if not target.name.strip() and not (target.role and target.nth):
            return []  # a description ("the red icon") is the vision model's
        return self._run(self._find(target, window, deadline), deadline)

    def hit_test(self, x: int, y: int, window: Window, deadline: float | None = None) -> Candidate | None:
        """The deepest showing accessible at screen pixel (x, y) of `window`, or None (another app, nothing)."""
        deadline = deadline if deadline is not None else time.monotonic() + 2.0
        return self._run(self._hit_test(x, y, window, deadline), deadline)

    def texts(self, window: Window, deadline: float) -> list[str]:
        """The window's visible text in reading order: labels, buttons, text contents (never passwords)."""
        return self._run(self._texts(window, deadline), deadline)

    def fingerprint(self, window: Window, deadline: float) -> frozenset[tuple[str, str, frozenset[str]]]:
        """(role, name, states) of every showing object: compare two to tell whether a click changed anything."""
        return self._run(self._fingerprint(window, deadline), deadline)

    def secret_boxes(self, window: Window, deadline: float) -> list[Box]:
        """Screen boxes of the window's showing password fields, to black out of a screenshot."""
        return self._run(self._secret_boxes(window, deadline), deadline)

    def applications(self, deadline: float) -> list[int]:
        """The process ids of the apps on the accessibility bus (for `loki doctor`); raises ScreenError without a bus."""
        return [app.pid for app in self._run(self._applications(), deadline)]

    def close(self) -> None:
        """Drop the bus connection and stop the loop's thread."""
        with self._lock:
            loop, thread, bus = self._loop, self._thread, self._bus
            self._loop = self._thread = self._bus = None
        if loop is None:
            return
        if bus is not None:
            loop.call_soon_threadsafe(bus.disconnect)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5.0)
        loop.close()

    def __enter__(self) -> AccessibilityFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # The loop and the bus -----------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T], deadline: float) -> T:
        """Run `coro` on the private loop, waiting until `deadline` at most."""
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="loki-a11y", daemon=True)
                self._thread.start()
            loop = self._loop
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout as exc:
            future.cancel()
            raise ScreenError(
                "The accessibility bus did not answer in time (the app may be busy or hung)", code="a11y"
            ) from exc

    async def _connect(self) -> Any:
        """The accessibility bus, found through the session bus, with accessibility switched on."""
        if self._bus is not None and self._bus.connected:
            return self._bus
        from dbus_fast import BusType, Message, Variant
        from dbus_fast.aio import MessageBus

        address = "" if self.session_bus else os.environ.get("AT_SPI_BUS_ADDRESS", "")
        if not address:
            if not (
                self.session_bus or os.environ.get("DBUS_SESSION_BUS_ADDRESS") or os.environ.get("XDG_RUNTIME_DIR")
            ):
                raise ScreenError(f"No D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set): {_NO_BUS}", code="a11y")
            where = {"bus_address": self.session_bus} if self.session_bus else {"bus_type": BusType.SESSION}
            try:
                session = await asyncio.wait_for(MessageBus(**where).connect(), self.connect_timeout_s)
            except Exception as exc:  # dbus-fast: OSError, InvalidAddressError, AuthError, a timeout
                raise ScreenError(f"The D-Bus session bus does not answer ({exc}): {_NO_BUS}", code="a11y") from exc
            try:
                address = str((await _call(session, "org.a11y.Bus", "/org/a11y/bus", "org.a11y.Bus", "GetAddress"))[0])
                enabled = await _call(session, "org.a11y.Bus", "/org/a11y/bus", _PROPERTIES, "Get", "ss",
                                      ["org.a11y.Status", "IsEnabled"])  # fmt: skip
                if not enabled[0].value:  # apps that start afterwards then expose their widgets
                    await session.call(
                        Message(
                            destination="org.a11y.Bus",
                            path="/org/a11y/bus",
                            interface=_PROPERTIES,
                            member="Set",
                            signature="ssv",
                            body=["org.a11y.Status", "IsEnabled", Variant("b", True)],
                        )
                    )
            except _Gone as exc:
                raise ScreenError(f"No accessibility bus on the session bus ({exc}): {_NO_BUS}", code="a11y") from exc
            finally:
                session.disconnect()
        try:
            self._bus = await asyncio.wait_for(MessageBus(bus_address=address).connect(), self.connect_timeout_s)
        except Exception as exc:  # as above
            raise ScreenError(
                f"The accessibility bus at {address} does not answer ({exc}): {_NO_BUS}", code="a11y"
            ) from exc
        self._apps.clear()
        return self._bus

    async def _call(
        self, dest: str, path: str, interface: str, member: str, signature: str = "", body: Any = ()
    ) -> Any:
        bus = await self._connect()
        if self._in_flight is None:
            self._in_flight = asyncio.Semaphore(IN_FLIGHT)
        async with self._in_flight:
            return await _call(bus, dest, path, interface, member, signature, list(body))

    # Apps and windows ---------------------------------------------------------------------------

    async def _applications(self) -> list[_App]:
        """Every application on the bus, with its pid and toolkit (cached by bus name)."""
        try:
            refs = (await self._call("org.a11y.atspi.Registry", _ROOT, _ACCESSIBLE, "GetChildren"))[0]
        except _Gone as exc:
            raise ScreenError(f"The AT-SPI registry does not answer ({exc}): {_NO_BUS}", code="a11y") from exc
        names = [name for name, _ in refs if name]
        fresh = [name for name in names if name not in self._apps]
        found = await asyncio.gather(*(self._application(name) for name in fresh), return_exceptions=True)
        for name, app in zip(fresh, found, strict=True):
            if isinstance(app, _App):
                self._apps[name] = app
            elif not isinstance(app, _Gone):
                raise app if isinstance(app, BaseException) else RuntimeError(app)
        return [self._apps[name] for name in names if name in self._apps]

    async def _application(self, name: str) -> _App:
        pid = int((await self._call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                    "GetConnectionUnixProcessID", "s", [name]))[0])  # fmt: skip
        toolkit, version = await asyncio.gather(
            self._property(name, _ROOT, "org.a11y.atspi.Application", "ToolkitName"),
            self._property(name, _ROOT, "org.a11y.atspi.Application", "Version"),
        )
        gtk4 = str(toolkit).casefold() == "gtk" and str(version).startswith("4.")
        return _App(name, pid, gtk4, toolkit_scale(None, _environ(pid)))

    async def _property(self, dest: str, path: str, interface: str, name: str) -> Any:
        try:
            return (await self._call(dest, path, _PROPERTIES, "Get", "ss", [interface, name]))[0].value
        except _Gone:
            return ""

    async def _window(self, window: Window) -> tuple[_App, tuple[str, str], Box | None]:
        """The app and top-level accessible of `window`: its ACTIVE frame or dialog, else the one titled so."""
        apps = await self._applications()
        mine = [app for app in apps if app.pid == window.pid] if window.pid else apps
        waited = time.monotonic() + APP_REGISTERS_S if _just_started(window.pid) else 0.0
        while not mine and time.monotonic() < waited:
            await asyncio.sleep(0.2)  # an app shows its window a moment before it joins the AT-SPI bus
            mine = [app for app in await self._applications() if app.pid == window.pid]
        if not mine:
            raise ScreenError(
                f"The window {window.title or window.app or hex(window.id)!r} exposes no accessibility "
                "(the app ignores AT-SPI, or started before accessibility was switched on: restart it)",
                code="a11y",
            )
        tops: list[tuple[_App, _Node]] = []
        for app in mine:
            try:
                children = (await self._call(app.bus_name, _ROOT, _ACCESSIBLE, "GetChildren"))[0]
            except _Gone:
                continue
            nodes = await asyncio.gather(*(self._node(tuple(ref), app.gtk4) for ref in children))
            tops += [(app, n) for n in nodes if n is not None and n.role in _TOPLEVELS]
        if not tops:
            raise ScreenError(f"{window.app or 'The app'} shows no window on the accessibility bus", code="a11y")

        def rank(entry: tuple[_App, _Node]) -> tuple[bool, float, bool]:
            node = entry[1]
            title = label_score(window.title, node.name) if window.title else 0.0
            return ("active" in node.states, title, "showing" in node.states)

        app, top = max(tops, key=rank)
        if not window.pid and "active" not in top.states and rank((app, top))[1] < MATCH:
            raise ScreenError(f"No accessible window answers to {window.title!r}", code="a11y")
        extents = await self._extents(top.ref) if app.gtk4 else None
        return app, top.ref, extents

    # Reading accessibles ------------------------------------------------------------------------

    async def _role(self, ref: tuple[str, str], number: int) -> str:
        """The role's name ("push button"), asked of each app once per role number (GTK4 names some its own way)."""
        key = (ref[0], number)
        if key not in self._roles:
            name = str((await self._call(*ref, _ACCESSIBLE, "GetRoleName"))[0])
            self._roles[key] = _ROLE_NAMES.get(name, name)
        return self._roles[key]

    async def _node(self, ref: tuple[str, str], gtk4: bool = False) -> _Node | None:
        """Role, name, states and children of one accessible, asked concurrently; None when it is gone."""
        dest, path = ref
        try:
            role, states, name, children = await asyncio.gather(
                self._call(dest, path, _ACCESSIBLE, "GetRole"),
                self._call(dest, path, _ACCESSIBLE, "GetState"),
                self._call(dest, path, _PROPERTIES, "Get", "ss", [_ACCESSIBLE, "Name"]),
                self._call(dest, path, _ACCESSIBLE, "GetChildren"),
            )
            role_name = await self._role(ref, int(role[0]))
        except _Gone:
            return None
        kids = [(str(d), str(p)) for d, p in children[0] if p != "/org/a11y/atspi/null"]
        return _Node(ref, role_name, _own_name(str(name[0].value), gtk4), _state_names(states[0]), kids)

    async def _walk(self, app: _App, top: tuple[str, str], deadline: float) -> list[_Node]:
        """The showing subtree of `top`, breadth first (so in tree order per level), up to the node cap."""
        out: list[_Node] = []
        level: list[tuple[tuple[str, str], _Node | None]] = [(top, None)]
        while level and len(out) < self.node_cap and time.monotonic() < deadline:
            level = level[: self.node_cap - len(out)]
            nodes = await asyncio.gather(*(self._node(ref, app.gtk4) for ref, _ in level))
            nxt: list[tuple[tuple[str, str], _Node | None]] = []
            for (_, owner), node in zip(level, nodes, strict=True):
                if node is None or (out and not _shown(node, app)):
                    continue  # hidden pages, closed menus: not on the screen, and not walked
                node.owner = owner
                out.append(node)
                mine = node if node.name.strip() and out[0] is not node else owner
                nxt += [(child, mine) for child in node.children]
            level = nxt
        _name_by_content(out)
        return out

    async def _extents(self, ref: tuple[str, str]) -> Box | None:
        try:
            x, y, w, h = (await self._call(*ref, _COMPONENT, "GetExtents", "u", [_SCREEN]))[0]
        except _Gone:
            return None
        return Box(x, y, w, h) if w > 0 and h > 0 else None

    async def _boxes(self, nodes: list[_Node], app: _App, window: Window, frame: Box | None) -> None:
        """Fill each node's box in screen pixels (None when it has no extent)."""
        raw = await asyncio.gather(*(self._extents(n.ref) for n in nodes))
        for node, box in zip(nodes, raw, strict=True):
            node.box = _to_screen(box, app, window, frame) if box is not None else None

    async def _text(self, ref: tuple[str, str]) -> str:
        try:
            return str((await self._call(*ref, "org.a11y.atspi.Text", "GetText", "ii", [0, -1]))[0])
        except _Gone:
            return ""

    async def _labelled_by(self, ref: tuple[str, str]) -> str:
        """The name of the object that labels `ref` (a label beside an entry), or ""."""
        try:
            relations = (await self._call(*ref, _ACCESSIBLE, "GetRelationSet"))[0]
        except _Gone:
            return ""
        for kind, targets in relations:
            for dest, path in targets if kind == _LABELLED_BY else ():
                name = await self._property(dest, path, _ACCESSIBLE, "Name")
                if name:
                    return str(name)
        return ""

    async def _labels(self, nodes: list[_Node]) -> None:
        """Give unnamed entries their label's name and unnamed text objects their text (never a password's)."""
        unnamed = [n for n in nodes if not n.name.strip() and n.role != "password text"]
        labelled = [n for n in unnamed if n.role in _LABELLED]
        for node, name in zip(
            labelled, await asyncio.gather(*(self._labelled_by(n.ref) for n in labelled)), strict=True
        ):
            node.name = name
        textual = [n for n in unnamed if not n.name and n.role in _TEXTUAL]
        for node, text in zip(textual, await asyncio.gather(*(self._text(n.ref) for n in textual)), strict=True):
            node.name = " ".join(text.split())

    # The stage's work ---------------------------------------------------------------------------

    async def _find(self, target: Target, window: Window, deadline: float) -> list[Candidate]:
        app, top, frame = await self._window(window)
        nodes = await self._walk(app, top, deadline)
        await self._labels(nodes)
        matched: list[tuple[_Node, float]] = []
        for node in nodes[1:]:
            if "visible" not in node.states or not role_matches(target.role, node.role):
                continue
            # "the second link": no name, every control of the role counts, the nth in reading order is picked.
            score = label_score(target.name, node.name) if target.name.strip() else ROLE_ONLY
            if score < MATCH or node.covered:
                continue  # a button's own label child is the button
            if not node.states & {"enabled", "sensitive"}:
                score *= DISABLED
            matched.append((node, score))
        if target.name.strip() and any(
            label_score(target.name, n.name) >= 1.0 for n, _ in matched
        ):  # the name is there as said: near misses ("page 2") are others
            matched = [(n, s) for n, s in matched if label_score(target.name, n.name) >= 1.0]
        await self._boxes([n for n, _ in matched], app, window, frame)
        found = [
            Candidate(n.box, n.name, self.source, round(s, 3), n.role, n.states, n.ref)
            for n, s in matched
            if n.box is not None
        ]
        return sorted(reading_order(found), key=lambda c: -c.score)

    async def _hit_test(self, x: int, y: int, window: Window, deadline: float) -> Candidate | None:
        app, top, frame = await self._window(window)
        nodes = [n for n in await self._walk(app, top, deadline) if "visible" in n.states]
        await self._boxes(nodes, app, window, frame)
        inside = [n for n in nodes[1:] if n.box is not None and n.box.contains(x + 0.5, y + 0.5)]
        if not inside:
            return None
        # The deepest: the smallest box holding the point, the later (deeper) in breadth-first order on a tie;
        # then what it is the inside of (the label or icon of a button is the button).
        order = {id(n): i for i, n in enumerate(nodes)}
        best = min(inside, key=lambda n: (n.box.width * n.box.height if n.box else 0, -order[id(n)]))
        while best.covered and best.owner is not None and best.owner.box is not None:
            best = best.owner
        if not best.name:
            await self._labels([best])
        assert best.box is not None
        return Candidate(best.box, best.name, self.source, 1.0, best.role, best.states, best.ref)

    async def _texts(self, window: Window, deadline: float) -> list[str]:
        app, top, frame = await self._window(window)
        nodes = [n for n in (await self._walk(app, top, deadline))[1:] if "visible" in n.states]
        await self._labels(nodes)
        # An entry's or document's content is its text, not its name (which is its label).
        content = [n for n in nodes if n.role in _TEXT_ROLES - {"password text"} or n.role in {"paragraph", "terminal"}]
        for node, text in zip(content, await asyncio.gather(*(self._text(n.ref) for n in content)), strict=True):
            node.name = " ".join(text.split()) or node.name
        shown = [n for n in nodes if n.name.strip() and not n.covered]
        await self._boxes(shown, app, window, frame)
        lines = [Candidate(n.box, n.name, self.source, 1.0, n.role) for n in shown if n.box is not None]
        return [c.label for c in reading_order(lines)]

    async def _fingerprint(self, window: Window, deadline: float) -> frozenset[tuple[str, str, frozenset[str]]]:
        app, top, _ = await self._window(window)
        return frozenset((n.role, n.name, n.states) for n in await self._walk(app, top, deadline))

    async def _secret_boxes(self, window: Window, deadline: float) -> list[Box]:
        app, top, frame = await self._window(window)
        secret = [n for n in await self._walk(app, top, deadline) if n.role == "password text"]
        await self._boxes(secret, app, window, frame)
        return [n.box for n in secret if n.box is not None]


async def _call(
    bus: Any, dest: str, path: str, interface: str, member: str, signature: str = "", body: Any = ()
) -> Any:
    """One method call; an error reply (object or app gone, no such interface) raises _Gone."""
    from dbus_fast import Message, MessageType

    try:
        reply = await bus.call(
            Message(
                destination=dest, path=path, interface=interface, member=member, signature=signature, body=list(body)
            )
        )
    except EOFError as exc:  # the bus itself went away
        raise ScreenError(f"The accessibility bus closed: {_NO_BUS}", code="a11y") from exc
    if reply is None or reply.message_type == MessageType.ERROR:
        raise _Gone(f"{member}: {reply.error_name if reply else 'no reply'} {reply.body if reply else ''}")
    return reply.body


_ACTIONABLE = ("button", "menu item", "page tab", "check box", "link", "list item", "table cell")


def _name_by_content(nodes: list[_Node]) -> None:
    """An unnamed button is named by the label inside it (GTK4 names a button with an icon-like label, such
    as a calculator's "π", only by its class); that label then counts as its inside."""
    by_ref = {n.ref: n for n in nodes}
    for node in nodes:
        if node.name or not node.role.endswith(_ACTIONABLE):
            continue
        level = [node]
        for _ in range(2):
            level = [by_ref[ref] for n in level for ref in n.children if ref in by_ref]
            named = [n for n in level if n.name.strip()]
            if named:
                node.name = named[0].name
                named[0].owner = node
                break


def _shown(node: _Node, app: _App) -> bool:
    """Whether an accessible is on the screen as far as its states tell.

    GTK4 (4.8) never sets SHOWING below the toplevel and sets VISIBLE on everything it presents (it
    presents only visible widgets), so there only boxes tell: see `_on_window`.
    """
    return "visible" in node.states if app.gtk4 else "showing" in node.states


def _own_name(name: str, gtk4: bool) -> str:
    """A name as the user sees it: GTK4 (4.8) names a button by its label twice ("7 7") and an unnamed
    widget by its class ("GtkMenuButton", "AdwGizmo"), which no one would say."""
    if gtk4 and _TYPE_NAME.match(name):
        return ""
    half = len(name) // 2
    if len(name) % 2 and name[half] == " " and name[:half] == name[half + 1 :]:
        return name[:half]
    return name


def _state_names(words: Iterable[int]) -> frozenset[str]:
    """GetState's bit words -> state names."""
    low, high = (list(words) + [0, 0])[:2]
    bits = int(low) | int(high) << 32
    return frozenset(name for i, name in enumerate(_STATES) if bits >> i & 1)


def _environ(pid: int) -> dict[str, str]:
    """A process's environment (for its GDK_SCALE); {} when it cannot be read."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _to_screen(box: Box, app: _App, window: Window, frame: Box | None) -> Box:
    """An accessible's extents -> screen pixels, per toolkit.

    GTK4: relative to its toplevel, in logical pixels; the X window can be larger than the toplevel by
    the client-side decoration's border (5 px each side under a window manager without compositing),
    taken as half the difference in each direction.
    """
    if app.gtk4:
        inset = (0.0, 0.0)
        if frame is not None:
            inset = (
                max(0.0, (window.box.width / app.scale - frame.width) / 2),
                max(0.0, (window.box.height / app.scale - frame.height) / 2),
            )
        return window_relative_to_screen(box, (window.box.left, window.box.top), app.scale, inset)
    if app.scale != 1.0:
        return logical_to_screen(box, app.scale)
    return box


def _just_started(pid: int | None) -> bool:
    """True when process `pid` started less than JUST_STARTED_S ago."""
    if not pid:
        return False
    import psutil

    try:
        return time.time() - psutil.Process(pid).create_time() < JUST_STARTED_S
    except (psutil.Error, OSError):
        return False
