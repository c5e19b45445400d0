"""A real Tk application for desktop tests: logs every key, click and wheel event it receives.

Usage: python keyprobe.py LOG.jsonl — each event is one JSON line; the text box's content is
logged after every key as {"text": ...}.
"""

import json
import sys
import tkinter as tk

log_path = sys.argv[1]
root = tk.Tk(className="keyprobe")
root.title("LOKI key probe")
root.geometry("600x400+100+100")
box = tk.Text(root, width=60, height=15)
box.pack(fill="both", expand=True)


def write(record: dict) -> None:
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


def on_key(event: tk.Event) -> None:
    write({"key": event.keysym, "state": event.state, "char": event.char})
    root.after(1, lambda: write({"text": box.get("1.0", "end-1c")}))


def on_click(event: tk.Event) -> None:
    write({"click": event.num, "x": event.x_root, "y": event.y_root})


root.bind_all("<KeyPress>", on_key)
box.bind("<ButtonPress>", on_click)
box.bind("<Button-4>", lambda e: write({"wheel": "up"}))
box.bind("<Button-5>", lambda e: write({"wheel": "down"}))
root.after(200, lambda: (root.focus_force(), box.focus_set(), write({"ready": True})))
root.mainloop()
