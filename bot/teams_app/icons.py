"""The app icons, drawn in code: a Teams Android device whose screen shows a person (the
sign-in), with a green check badge (provisioned).

- `color_icon()`: 192x192, full colour on a full-bleed gradient (Teams rounds the corners).
- `outline_icon()`: 32x32, white on transparent only, as Teams requires.

Shapes are signed distance functions (in pixels, negative inside) with a bounding box. A
pixel is covered by `0.5 - distance` (clamped to 0..1) of a shape, which anti-aliases every
edge exactly as 1-pixel-wide box filtering would, without supersampling. Deterministic: the
same code gives the same bytes.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.teams_app.png import encode_rgba

COLOR_SIZE = 192
OUTLINE_SIZE = 32
ACCENT = "#4F5BD5"  # the manifest's accentColor: the background's middle

Color = tuple[float, float, float]  # red, green, blue, 0..1 each
Paint = Color | Callable[[float, float], Color]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class Shape:
    distance: Callable[[float, float], float]
    box: Box


def rounded_rect(x0: float, y0: float, x1: float, y1: float, radius: float) -> Shape:
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = (x1 - x0) / 2 - radius, (y1 - y0) / 2 - radius

    def distance(x: float, y: float) -> float:
        qx, qy = abs(x - cx) - half_w, abs(y - cy) - half_h
        return math.hypot(max(qx, 0.0), max(qy, 0.0)) + min(max(qx, qy), 0.0) - radius

    return Shape(distance, (x0, y0, x1, y1))


def circle(cx: float, cy: float, radius: float) -> Shape:
    return Shape(lambda x, y: math.hypot(x - cx, y - cy) - radius, (cx - radius, cy - radius, cx + radius, cy + radius))


def polyline(points: Sequence[tuple[float, float]], width: float) -> Shape:
    """A stroke through `points` with round caps and joins."""
    segments = list(itertools.pairwise(points))

    def distance(x: float, y: float) -> float:
        return min(_to_segment(x, y, a, b) for a, b in segments) - width / 2

    xs, ys = [p[0] for p in points], [p[1] for p in points]
    pad = width / 2
    return Shape(distance, (min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad))


def ring(shape: Shape, width: float) -> Shape:
    """A stroke `width` wide centred on `shape`'s edge."""
    x0, y0, x1, y1 = shape.box
    pad = width / 2
    return Shape(lambda x, y: abs(shape.distance(x, y)) - pad, (x0 - pad, y0 - pad, x1 + pad, y1 + pad))


def union(*shapes: Shape) -> Shape:
    x0s, y0s, x1s, y1s = zip(*(s.box for s in shapes), strict=True)
    return Shape(lambda x, y: min(s.distance(x, y) for s in shapes), (min(x0s), min(y0s), max(x1s), max(y1s)))


def intersect(a: Shape, b: Shape) -> Shape:
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a.box, b.box
    return Shape(lambda x, y: max(a.distance(x, y), b.distance(x, y)),
                 (max(ax0, bx0), max(ay0, by0), min(ax1, bx1), min(ay1, by1)))


def offset(shape: Shape, dx: float, dy: float) -> Shape:
    x0, y0, x1, y1 = shape.box
    return Shape(lambda x, y: shape.distance(x - dx, y - dy), (x0 + dx, y0 + dy, x1 + dx, y1 + dy))


def _to_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - ax - t * dx, y - ay - t * dy)


def hex_color(text: str) -> Color:
    return (int(text[1:3], 16) / 255, int(text[3:5], 16) / 255, int(text[5:7], 16) / 255)


def gradient(start: str, end: str, x0: float, y0: float, x1: float, y1: float) -> Callable[[float, float], Color]:
    """A linear gradient from `start` at (x0, y0) to `end` at (x1, y1)."""
    a, b = hex_color(start), hex_color(end)
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy

    def paint(x: float, y: float) -> Color:
        t = max(0.0, min(1.0, ((x - x0) * dx + (y - y0) * dy) / length2))
        return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)

    return paint


class Canvas:
    """A square of premultiplied RGBA pixels, painted shape over shape."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pixels = [0.0] * (size * size * 4)

    def fill(self, shape: Shape, paint: Paint, *, opacity: float = 1.0, blur: float = 1.0) -> None:
        """Paint `shape`; `blur` > 1 spreads its edge over that many pixels (a soft shadow)."""
        x0, y0, x1, y1 = shape.box
        spread = blur / 2 + 1
        columns = range(max(0, math.floor(x0 - spread)), min(self.size, math.ceil(x1 + spread)))
        rows = range(max(0, math.floor(y0 - spread)), min(self.size, math.ceil(y1 + spread)))
        px = self._pixels
        for row in rows:
            for column in columns:
                x, y = column + 0.5, row + 0.5
                alpha = opacity * max(0.0, min(1.0, 0.5 - shape.distance(x, y) / blur))
                if alpha <= 0.0:
                    continue
                r, g, b = paint(x, y) if callable(paint) else paint
                i = (row * self.size + column) * 4
                keep = 1.0 - alpha
                px[i] = r * alpha + px[i] * keep
                px[i + 1] = g * alpha + px[i + 1] * keep
                px[i + 2] = b * alpha + px[i + 2] * keep
                px[i + 3] = alpha + px[i + 3] * keep

    def png(self) -> bytes:
        out = bytearray()
        px = self._pixels
        for i in range(0, len(px), 4):
            alpha = px[i + 3]
            if alpha <= 0.0:
                out += b"\xff\xff\xff\x00"  # fully transparent pixels are transparent white
                continue
            out += bytes(_byte(px[i + k] / alpha) for k in range(3)) + bytes((_byte(alpha),))
        return encode_rgba(self.size, self.size, bytes(out))


def _byte(value: float) -> int:
    return max(0, min(255, round(value * 255)))


def color_icon() -> bytes:
    """192x192: a white device with a person on its screen and a green check badge."""
    canvas = Canvas(COLOR_SIZE)
    background = gradient("#6A78F2", "#3440B0", 0, 0, COLOR_SIZE, COLOR_SIZE)
    canvas.fill(rounded_rect(-1, -1, COLOR_SIZE + 1, COLOR_SIZE + 1, 0), background)
    body = rounded_rect(50, 30, 122, 156, 15)
    canvas.fill(offset(body, 0, 5), (0.05, 0.06, 0.25), opacity=0.35, blur=14)  # soft shadow
    canvas.fill(body, gradient("#FFFFFF", "#E9ECFB", 0, 30, 0, 156))
    canvas.fill(rounded_rect(57, 44, 115, 140, 7), gradient("#E4E9FF", "#C9D2FB", 0, 44, 0, 140))  # screen
    canvas.fill(circle(86, 37, 2.3), hex_color("#B8C0E8"))  # camera
    canvas.fill(rounded_rect(76, 145, 96, 149, 2), hex_color("#C3CAEC"))  # home bar
    person = gradient("#5B68E6", "#3A45B8", 0, 62, 0, 124)
    canvas.fill(circle(86, 79, 13), person)  # head
    canvas.fill(intersect(rounded_rect(61, 99, 111, 150, 24), rounded_rect(0, 0, 192, 127, 0)), person)  # shoulders
    badge_x, badge_y = 128.0, 132.0
    canvas.fill(circle(badge_x, badge_y, 31), background)  # a gap around the badge
    canvas.fill(offset(circle(badge_x, badge_y, 25), 0, 2), (0.02, 0.15, 0.06), opacity=0.3, blur=6)
    canvas.fill(circle(badge_x, badge_y, 25), gradient("#34C56A", "#14964A", 0, badge_y - 25, 0, badge_y + 25))
    check = [(badge_x - 11, badge_y + 1), (badge_x - 3.5, badge_y + 8.5), (badge_x + 11, badge_y - 7.5)]
    canvas.fill(polyline(check, 7), (1.0, 1.0, 1.0))
    return canvas.png()


def outline_icon() -> bytes:
    """32x32, white on transparent: the device's outline with a check mark on its screen."""
    canvas = Canvas(OUTLINE_SIZE)
    # Straight edges on whole pixels: a 2-pixel stroke centred on x = 8 covers columns 7 and 8.
    glyph = union(
        ring(rounded_rect(8, 3, 24, 29, 4), 2.0),  # the device
        polyline([(11.5, 16.5), (14.5, 19.5), (20.5, 13.0)], 2.2),  # the check mark on its screen
    )
    canvas.fill(glyph, (1.0, 1.0, 1.0))
    return canvas.png()
