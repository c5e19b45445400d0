"""A real Tk window for screen tests: a known picture at a known place, reporting where it really is.

Usage: python screenprobe.py LOG.jsonl WIDTHxHEIGHT+X+Y — the window is filled with vertical stripes
(a colour per 16 px column band); once shown it logs {"ready": true, "box": [root x, root y, width,
height], "id": X window id of the toplevel}.
"""

import json
import sys
import tkinter as tk

log_path, geometry = sys.argv[1], sys.argv[2]
root = tk.Tk(className="screenprobe")
root.title("LOKI screen probe")
root.geometry(geometry)
width, height = (int(v) for v in geometry.split("+")[0].split("x"))
canvas = tk.Canvas(root, width=width, height=height, highlightthickness=0, borderwidth=0, bg="#2040c0")
canvas.pack(fill="both", expand=True)
for band, left in enumerate(range(0, width, 16)):
    colour = "#2040c0" if band % 2 == 0 else "#40c020"
    canvas.create_rectangle(left, 0, left + 16, height, fill=colour, width=0)


def ready() -> None:
    root.update_idletasks()
    record = {
        "ready": True,
        "box": [root.winfo_rootx(), root.winfo_rooty(), root.winfo_width(), root.winfo_height()],
    }
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


root.after(500, lambda: (root.focus_force(), root.after(200, ready)))
root.mainloop()
