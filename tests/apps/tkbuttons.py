"""A real Tk window of buttons at a seeded random layout, for OCR grounding (Tk has no accessibility).

Usage: python tkbuttons.py LOG SEED [N] [--ru] [--labels "Save,Save As,..."] [--timeout S]

Shows "LOKI buttons SEED" with N buttons (default 20): a toolbar of buttons packed side by side (a row
OCR reads as one line) and the rest at random places, sizes and fonts (9-16 pt), labelled from realistic
button labels (some of several words, "Save" and "Save As" together); with --ru a few Russian ones;
--labels puts the given ones first (the toolbar), the rest drawn as usual.
Once shown it appends {"ready": true, "id": X window id, "box": [...], "buttons": [{"label", "box":
[x_root, y_root, w, h]}]} to LOG, then {"clicked": label} per click; a status line at the bottom reads
"Clicked: <label>". It closes itself after the timeout (default 120 s).
"""

import argparse
import json
import random
import tkinter as tk

ENGLISH = [
    "Save", "Save As", "Open", "Open Recent", "Close", "Cancel", "OK", "Apply", "Help", "Print",
    "Print Preview", "Delete", "Rename", "New Folder", "New File", "Copy", "Paste", "Cut", "Undo", "Redo",
    "Find", "Find Next", "Replace", "Replace All", "Settings", "Preferences", "Export", "Import", "Refresh",
    "Back", "Next", "Finish", "Submit", "Reset", "Browse", "Upload", "Download", "Sign In", "Log Out",
    "Add", "Remove", "Edit", "View", "Share", "Send", "Reply", "Forward", "Archive", "Properties",
    "Details", "Select All", "Zoom In", "Zoom Out", "Run", "Stop", "Pause", "Continue", "Retry", "Skip",
    "Install", "Update", "Check for Updates", "About", "Exit", "Yes", "No", "Connect", "Disconnect",
    "Clear", "Filter", "Sort", "Add to Cart", "Learn More", "Get Started", "Show Details", "Insert Table",
    "Quit", "Restart", "Play", "Record", "Mute", "Accept", "Decline", "Compose", "Attach File",
]  # fmt: skip
RUSSIAN = [
    "Сохранить", "Открыть", "Отмена", "Удалить", "Настройки", "Справка", "Печать", "Закрыть", "Выход",
    "Далее", "Назад", "Готово", "Применить", "Обновить", "Поиск", "Копировать", "Вставить", "Сохранить как",
]  # fmt: skip
FONTS = ["DejaVu Sans", "DejaVu Serif", "Nimbus Sans", "Nimbus Roman", "DejaVu Sans Mono"]
WIDTH, HEIGHT = 980, 640
TOOLBAR = 5
"""Buttons packed side by side along the top."""


def labels(rng: random.Random, count: int, russian: bool, given: list[str]) -> list[str]:
    """Distinct labels, `given` first; "Save" with "Save As" when drawn, a few Russian ones with --ru."""
    ru = [t for t in rng.sample(RUSSIAN, min(len(RUSSIAN), max(1, count // 5))) if t not in given] if russian else []
    chosen = rng.sample([t for t in ENGLISH if t not in given], max(0, count - len(given) - len(ru)))
    if "Save As" in chosen and "Save" not in chosen + given:
        chosen[-1 if chosen[-1] != "Save As" else 0] = "Save"
    chosen += ru
    rng.shuffle(chosen)
    return given + chosen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("seed", type=int)
    parser.add_argument("count", type=int, nargs="?", default=20)
    parser.add_argument("--ru", action="store_true")
    parser.add_argument("--labels", default="", help="labels to show first, separated by ','")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    root = tk.Tk(className="tkbuttons")
    root.title(f"LOKI buttons {args.seed}")
    root.geometry(f"{WIDTH}x{HEIGHT}+{rng.randint(0, 200)}+{rng.randint(0, 100)}")
    background = rng.choice(["#d9d9d9", "#f0f0f0", "#ffffff", "#e8eef7"])
    root.configure(bg=background)

    def record(entry: dict) -> None:
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")

    status = tk.Label(root, text="Clicked: nothing", font=("DejaVu Sans", 11), bg=background, anchor="w")
    status.place(x=10, y=HEIGHT - 30, width=WIDTH - 20, height=24)

    def clicked(label: str) -> None:
        status.configure(text=f"Clicked: {label}")
        record({"clicked": label})

    buttons: list[tuple[str, tk.Button]] = []
    names = labels(rng, args.count, args.ru, [t for t in args.labels.split(",") if t])
    toolbar = tk.Frame(root, bg=background)
    toolbar.place(x=0, y=0)
    for label in names[:TOOLBAR]:
        button = tk.Button(toolbar, text=label, font=("DejaVu Sans", 10), command=lambda t=label: clicked(t))
        button.pack(side="left")
        buttons.append((label, button))

    taken: list[tuple[int, int, int, int]] = [(0, 0, WIDTH, 50), (0, HEIGHT - 40, WIDTH, 40)]
    for label in names[TOOLBAR:]:
        font = (rng.choice(FONTS), rng.randint(9, 16), rng.choice(["normal", "bold"]))
        button = tk.Button(
            root,
            text=label,
            font=font,
            padx=rng.randint(2, 20),
            pady=rng.randint(1, 10),
            bg=rng.choice(["#d9d9d9", "#e0e0ff", "#ffffff", "#c8e6c9", "#ffe0b2"]),
            command=lambda t=label: clicked(t),
        )
        width, height = button.winfo_reqwidth() + 4, button.winfo_reqheight() + 4
        for _ in range(500):
            x, y = rng.randint(5, WIDTH - width - 5), rng.randint(55, HEIGHT - height - 45)
            if all(x + width <= a or a + w <= x or y + height <= b or b + h <= y for a, b, w, h in taken):
                break
        else:
            raise SystemExit(f"no room for {label!r}: ask for fewer buttons")
        taken.append((x, y, width, height))
        button.place(x=x + 2, y=y + 2)
        buttons.append((label, button))

    def ready() -> None:
        root.update_idletasks()
        record(
            {
                "ready": True,
                "id": int(root.frame(), 16) if root.frame() else root.winfo_id(),
                "box": [root.winfo_rootx(), root.winfo_rooty(), root.winfo_width(), root.winfo_height()],
                "buttons": [
                    {
                        "label": label,
                        "box": [b.winfo_rootx(), b.winfo_rooty(), b.winfo_width(), b.winfo_height()],
                    }
                    for label, b in buttons
                ],
            }
        )

    root.after(500, lambda: (root.focus_force(), root.after(300, ready)))
    root.after(int(args.timeout * 1000), root.destroy)
    root.mainloop()


if __name__ == "__main__":
    main()
