"""The calibration window: red targets on a borderless Tk window, every click it receives logged.

Run as `python -m loki.screen.targets LOG SPEC`: SPEC is JSON {"box": [left, top, width, height],
"targets": [[x, y], ...], "radius": r} in screen pixels. LOG gets JSON lines: {"ready": ..., "box":
[the window's real root origin and size]} once it is shown, then {"click": [x_root, y_root]} per
button press. It closes itself after `timeout_s` (default 120) so it never outlives a crashed caller.
"""

from __future__ import annotations

import json
import sys

TARGET_RGB = "#ff0000"


def main(argv: list[str]) -> int:
    """Show the targets until killed or timed out."""
    import tkinter as tk

    log_path, spec = argv[0], json.loads(argv[1])
    left, top, width, height = (int(v) for v in spec["box"])
    radius = int(spec.get("radius", 8))
    root = tk.Tk(className="loki-calibrate")
    root.title("LOKI calibration")
    root.overrideredirect(True)  # no frame: the window's pixels are exactly where it is asked to be
    root.geometry(f"{width}x{height}+{left}+{top}")
    root.attributes("-topmost", True)
    canvas = tk.Canvas(root, width=width, height=height, bg="white", highlightthickness=0, borderwidth=0)
    canvas.place(x=0, y=0)
    for x, y in spec["targets"]:
        # A filled square of odd side centred on the pixel (x, y): its pixels' mean is exactly (x, y).
        cx, cy = int(x) - left, int(y) - top
        canvas.create_rectangle(cx - radius, cy - radius, cx + radius + 1, cy + radius + 1, fill=TARGET_RGB, width=0)
        canvas.create_line(cx - 2 * radius, cy, cx - radius - 2, cy, fill="black")
        canvas.create_line(cx + radius + 3, cy, cx + 2 * radius + 1, cy, fill="black")

    def write(record: dict) -> None:
        with open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def ready() -> None:
        root.update_idletasks()
        write({"ready": True, "box": [root.winfo_rootx(), root.winfo_rooty(), root.winfo_width(), root.winfo_height()]})

    canvas.bind("<ButtonPress>", lambda e: write({"click": [e.x_root, e.y_root], "button": e.num}))
    root.after(300, ready)
    root.after(int(float(spec.get("timeout_s", 120)) * 1000), root.destroy)
    root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
