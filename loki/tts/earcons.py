"""Earcons: short synthesized tones for listening / done / error, made once per sample rate."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# name -> notes as (frequency Hz, duration ms, gap after ms)
EARCONS: dict[str, tuple[tuple[float, float, float], ...]] = {
    "listening": ((660.0, 70.0, 10.0), (990.0, 90.0, 0.0)),  # rising: "I'm listening"
    "done": ((880.0, 60.0, 10.0), (660.0, 90.0, 0.0)),  # falling: "finished"
    "error": ((220.0, 110.0, 50.0), (207.7, 160.0, 0.0)),  # low and flat: "that failed"
}
EARCON_LEVEL = 0.25
"""Peak amplitude of an earcon (about -12 dBFS, below the voice)."""
RAMP_MS = 6.0
"""Milliseconds of raised-cosine attack and release on each note (no clicks)."""


@lru_cache(maxsize=16)
def earcon_samples(name: str, sample_rate_hz: int) -> np.ndarray:
    """The earcon as float32 mono samples at `sample_rate_hz` (cached; treat as read-only)."""
    import numpy as np

    try:
        notes = EARCONS[name]
    except KeyError:
        raise ValueError(f"unknown earcon {name!r}; known: {', '.join(EARCONS)}") from None
    parts = []
    for freq_hz, dur_ms, gap_ms in notes:
        n = int(sample_rate_hz * dur_ms / 1000)
        t = np.arange(n) / sample_rate_hz
        # a sine with a little third harmonic sounds like a soft chime rather than a test tone
        tone = np.sin(2 * np.pi * freq_hz * t) + 0.2 * np.sin(2 * np.pi * 3 * freq_hz * t)
        ramp = min(n // 2, int(sample_rate_hz * RAMP_MS / 1000))
        envelope = np.ones(n)
        if ramp:
            edge = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
            envelope[:ramp], envelope[n - ramp :] = edge, edge[::-1]
        envelope *= np.exp(-t * 8.0)  # a gentle decay
        parts.append(tone * envelope)
        parts.append(np.zeros(int(sample_rate_hz * gap_ms / 1000)))
    audio = np.concatenate(parts)
    audio *= EARCON_LEVEL / max(1e-9, float(np.max(np.abs(audio))))
    out = audio.astype(np.float32)
    out.flags.writeable = False
    return out
