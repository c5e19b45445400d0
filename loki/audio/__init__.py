"""Audio devices: the microphone seam (PortAudio and fakes), frames, resampling, WAV files, voice activity."""

from loki.audio.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE_HZ, Frame

__all__ = ["FRAME_MS", "FRAME_SAMPLES", "SAMPLE_RATE_HZ", "Frame"]
