"""Where a vision model's image goes: the model seam, and whether a call leaves this machine."""

from __future__ import annotations

import ipaddress
from typing import Protocol
from urllib.parse import urlsplit


class VisionModel(Protocol):
    """A model that answers a question about one image."""

    name: str
    url: str
    """Where the image goes ('' for a model in this process)."""

    async def ask(self, system: str, prompt: str, image_png_b64: str) -> str:
        """The model's text answer (within the backend's timeout)."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


def is_loopback(url: str) -> bool:
    """True when `url`'s host is this machine by its very name: localhost, 127.0.0.0/8 or ::1.

    No name is looked up: any other name counts as another machine, even one that resolves here.
    """
    host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def leaves_machine(model: VisionModel) -> bool:
    """True when what is sent to `model` goes to another machine."""
    return bool(model.url) and not is_loopback(model.url)
