"""A fixed-size ring of recent frames: the pre-roll kept from before speech starts."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import numpy as np

from loki.audio.frames import FRAME_MS, Frame


class FrameRing:
    """The last `capacity_ms` of frames; older frames fall off the front."""

    def __init__(self, capacity_ms: int) -> None:
        self.capacity_frames = max(0, -(-int(capacity_ms) // FRAME_MS))
        self._frames: deque[Frame] = deque(maxlen=max(1, self.capacity_frames))

    def push(self, frame: Frame) -> None:
        """Add a frame (dropping the oldest when full)."""
        if self.capacity_frames:
            self._frames.append(frame)

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[Frame]:
        return iter(self._frames)

    def drain(self) -> list[Frame]:
        """All frames, oldest first, leaving the ring empty."""
        frames = list(self._frames)
        self._frames.clear()
        return frames

    def audio(self) -> np.ndarray:
        """The ring's samples joined (int16)."""
        if not self._frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate([f.pcm for f in self._frames])
