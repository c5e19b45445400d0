"""X keysym names for pyautogui's key names: one table for pressing keys and for watching them."""

from __future__ import annotations

# pyautogui key names -> X keysym names, for the keys whose names differ (F-keys and letters follow a rule).
X_KEYSYMS = {
    "playpause": "XF86AudioPlay",
    "nexttrack": "XF86AudioNext",
    "prevtrack": "XF86AudioPrev",
    "stop": "XF86AudioStop",
    "volumeup": "XF86AudioRaiseVolume",
    "volumedown": "XF86AudioLowerVolume",
    "volumemute": "XF86AudioMute",
    "browserback": "XF86Back",
    "browserforward": "XF86Forward",
    "browserrefresh": "XF86Reload",
    "browserhome": "XF86HomePage",
    "browsersearch": "XF86Search",
    "browserstop": "XF86Stop",
    "browserfavorites": "XF86Favorites",
    "launchmail": "XF86Mail",
    "launchapp1": "XF86Launch1",
    "launchapp2": "XF86Launch2",
    "launchmediaselect": "XF86AudioMedia",
    "sleep": "XF86Sleep",
    "win": "Super_L",
    "winleft": "Super_L",
    "winright": "Super_R",
    "super": "Super_L",
    "command": "Super_L",
    "option": "Alt_L",
    "optionleft": "Alt_L",
    "optionright": "Alt_R",
    "ctrl": "Control_L",
    "ctrlleft": "Control_L",
    "ctrlright": "Control_R",
    "control": "Control_L",
    "alt": "Alt_L",
    "altleft": "Alt_L",
    "altright": "Alt_R",
    "shift": "Shift_L",
    "shiftleft": "Shift_L",
    "shiftright": "Shift_R",
    "enter": "Return",
    "return": "Return",
    "esc": "Escape",
    "escape": "Escape",
    "tab": "Tab",
    "space": "space",
    "backspace": "BackSpace",
    "delete": "Delete",
    "del": "Delete",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "pageup": "Prior",
    "pgup": "Prior",
    "pagedown": "Next",
    "pgdn": "Next",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "pause": "Pause",
    "printscreen": "Print",
    "print": "Print",
    "prtsc": "Print",
    "prtscr": "Print",
    "prntscrn": "Print",
    "menu": "Menu",
    "apps": "Menu",
    "help": "Help",
}


def keysym_name(key: str) -> str:
    """The X keysym name for a pyautogui-style key name ("f9" -> "F9", "ctrl" -> "Control_L")."""
    low = key.strip().lower().replace(" ", "").replace("_", "")
    if low in X_KEYSYMS:
        return X_KEYSYMS[low]
    if low.startswith("f") and low[1:].isdigit():
        return "F" + low[1:]
    return key.strip()
