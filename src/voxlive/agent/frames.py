"""Camera frames for ``VideoAgent``: their metadata, their image data and its perceptual hash."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Frame:
    sequence: int
    timestamp: float
    trigger: str
    hash: int
    image_url: str
    """A ``data:`` URL of the image."""

    def context(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "timestamp": self.timestamp,
            "triggerReason": self.trigger,
            "frameHash": f"{self.hash:016x}",
        }


def image_data(message: dict[str, Any]) -> str | None:
    """The base64 image of a ``video_frame`` message, if it has one."""
    image = message.get("image")
    data = image.get("data") if isinstance(image, dict) else None
    return data if isinstance(data, str) and data else None


def perceptual_hash(image: bytes) -> tuple[int, int, int]:
    """A 64-bit difference hash of an image (near-identical frames differ in few bits), and its size."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as picture:
        width, height = picture.size
        small = np.asarray(picture.convert("L").resize((9, 8), Image.Resampling.BILINEAR), np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if bit else "0" for bit in bits), 2), width, height


def now_ms() -> int:
    return int(time.time() * 1000)
