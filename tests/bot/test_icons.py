"""The app icons as Teams reads them: PNG sizes and colour type, the outline white on
transparent only, the colour icon a picture rather than a flat square."""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import pytest

from bot.teams_app import icons
from bot.teams_app.png import encode_rgba


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    bit_depth: int
    color_type: int
    rows: list[bytes]  # unfiltered scanlines (RGBA for colour type 6)

    def pixels(self) -> list[tuple[int, int, int, int]]:
        return [tuple(row[i:i + 4]) for row in self.rows for i in range(0, len(row), 4)]  # type: ignore[misc]


def read_png(data: bytes) -> Png:
    """A strict reader: signature, chunk CRCs, one IHDR first, IDAT, IEND; 8-bit RGBA scanlines."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC on {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, color_type, compression, filtering, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (compression, filtering, interlace) == (0, 0, 0)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    bpp, stride = 4, width * 4
    assert len(raw) == height * (stride + 1)
    rows: list[bytes] = []
    previous = bytes(stride)
    for r in range(height):
        kind, line = raw[r * (stride + 1)], bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = previous[i], previous[i - bpp] if i >= bpp else 0
            predictor = {0: 0, 1: left, 2: up, 3: (left + up) // 2, 4: _paeth(left, up, corner)}[kind]
            line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = rows[-1]
    return Png(width, height, depth, color_type, rows)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def test_the_png_writer_round_trips_pixels() -> None:
    pixels = bytes(range(256)) * 3  # 8x24 RGBA, every byte value
    image = read_png(encode_rgba(8, 24, pixels))
    assert (image.width, image.height, image.bit_depth, image.color_type) == (8, 24, 8, 6)
    assert b"".join(image.rows) == pixels


def test_the_png_writer_refuses_a_wrong_pixel_count() -> None:
    with pytest.raises(ValueError, match="not 2x2 RGBA"):
        encode_rgba(2, 2, bytes(15))


def test_the_colour_icon_is_192_square_rgba() -> None:
    image = read_png(icons.color_icon())
    assert (image.width, image.height, image.bit_depth, image.color_type) == (192, 192, 8, 6)


def test_the_colour_icon_is_a_picture_not_a_flat_square() -> None:
    pixels = read_png(icons.color_icon()).pixels()
    assert all(a == 255 for *_, a in pixels), "full bleed: Teams rounds the corners itself"
    colors = {p[:3] for p in pixels}
    assert len(colors) > 500, f"only {len(colors)} colours"
    top_left, bottom_right, middle = pixels[0], pixels[-1], pixels[96 * 192 + 86]
    assert top_left != bottom_right, "the background is a gradient"
    assert middle[:3] not in (top_left[:3], bottom_right[:3]), "something is drawn in the middle"
    assert any(g > r + 60 and g > b + 60 for r, g, b, _ in pixels), "the green check badge"
    assert sum(1 for r, g, b, _ in pixels if min(r, g, b) >= 250) > 500, "a white device"


def test_the_outline_icon_is_32_square_white_on_transparent() -> None:
    image = read_png(icons.outline_icon())
    assert (image.width, image.height, image.bit_depth, image.color_type) == (32, 32, 8, 6)
    pixels = image.pixels()
    not_white = [(i % 32, i // 32, p) for i, p in enumerate(pixels) if p[3] and p[:3] != (255, 255, 255)]
    assert not not_white, f"coloured pixels: {not_white[:5]}"
    opaque = sum(1 for p in pixels if p[3] == 255)
    clear = sum(1 for p in pixels if p[3] == 0)
    assert 80 < opaque < 400 and clear > 500, f"{opaque} opaque, {clear} transparent: a drawn outline"
    assert any(0 < p[3] < 255 for p in pixels), "anti-aliased edges"


def test_drawing_is_deterministic() -> None:
    assert icons.color_icon() == icons.color_icon()
    assert icons.outline_icon() == icons.outline_icon()
