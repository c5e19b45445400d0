"""Audio devices through sounddevice (PortAudio): listing them and choosing one by name or index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loki.errors import AudioError


@dataclass(frozen=True)
class Device:
    """One PortAudio device."""

    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate_hz: int
    is_default_input: bool = False
    is_default_output: bool = False

    def as_json(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "index": self.index,
            "name": self.name,
            "hostapi": self.hostapi,
            "inputs": self.max_input_channels,
            "outputs": self.max_output_channels,
            "rate_hz": self.default_samplerate_hz,
            "default": self.is_default_input or self.is_default_output,
        }


def sounddevice() -> Any:
    """The sounddevice module, or AudioError when PortAudio is missing."""
    try:
        import sounddevice as sd
    except OSError as exc:  # PortAudio library not found
        raise AudioError(f"PortAudio is not available ({exc}); install libportaudio2.", code="no_portaudio") from exc
    return sd


def list_devices() -> list[Device]:
    """Every input and output device PortAudio knows."""
    sd = sounddevice()
    try:
        raw = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except Exception as exc:
        raise AudioError(f"Cannot list audio devices: {exc}", code="devices") from exc
    devices = []
    for info in raw:
        devices.append(
            Device(
                index=int(info["index"]),
                name=str(info["name"]),
                hostapi=str(hostapis[info["hostapi"]]["name"]),
                max_input_channels=int(info["max_input_channels"]),
                max_output_channels=int(info["max_output_channels"]),
                default_samplerate_hz=int(info["default_samplerate"]),
                is_default_input=int(info["index"]) == default_in,
                is_default_output=int(info["index"]) == default_out,
            )
        )
    return devices


def find_device(spec: str | int | None, *, kind: str = "input") -> Device | None:
    """The device `spec` names (index, or a case-insensitive name substring); None: the system default.

    Raises AudioError naming the devices there are when nothing matches.
    """
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        return None
    devices = [d for d in list_devices() if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
    text = str(spec).strip()
    if text.isdigit():
        index = int(text)
        for d in devices:
            if d.index == index:
                return d
    else:
        low = text.lower()
        exact = [d for d in devices if d.name.lower() == low]
        if exact:
            return exact[0]
        partial = [d for d in devices if low in d.name.lower()]
        if partial:
            return partial[0]
    names = ", ".join(f"{d.index}: {d.name}" for d in devices) or "none"
    raise AudioError(f"No {kind} device matches {text!r}. {kind.title()} devices: {names}.", code="no_device")
