"""Audio devices: the microphone seam (real PortAudio device and fakes), frames, resampling, WAV files."""

from loki.audio.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE_HZ, Frame

__all__ = ["FRAME_MS", "FRAME_SAMPLES", "SAMPLE_RATE_HZ", "Frame"]
