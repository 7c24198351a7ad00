"""A minimal PNG writer: 8-bit RGBA, no filtering, zlib from the standard library.

Enough for the app icons; nothing here reads PNGs.
"""
from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOR_TYPE_RGBA = 6


def encode_rgba(width: int, height: int, pixels: bytes) -> bytes:
    """A PNG of `pixels`: `height` rows of `width` RGBA quadruples, top row first."""
    stride = width * 4
    if width < 1 or height < 1 or len(pixels) != stride * height:
        raise ValueError(f"{len(pixels)} bytes are not {width}x{height} RGBA pixels")
    # Each scanline starts with its filter type; 0 (none) keeps the writer trivial.
    raw = b"".join(b"\x00" + pixels[row * stride:(row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPE_RGBA, 0, 0, 0)
    return SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
