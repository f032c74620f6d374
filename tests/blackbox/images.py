"""Test images made with the standard library only (zlib + struct): PNGs with a texture that
shows motion clearly, and a bright off-centre blob whose position tells the camera's direction."""
import struct
import zlib


def _chunk(tag, data):
    c = struct.pack(">I", len(data)) + tag + data
    return c + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_bytes(w, h, blob=(0.3, 0.35), radius=None, seed=1):
    """An RGB PNG: a smooth colour texture with a checker pattern and a white disc at blob
    (fractions of width and height)."""
    radius = radius or max(4, min(w, h) // 10)
    bx, by = int(blob[0] * w), int(blob[1] * h)
    rows = []
    for y in range(h):
        row = bytearray(b"\x00")
        for x in range(w):
            if (x - bx) ** 2 + (y - by) ** 2 <= radius * radius:
                row += b"\xff\xff\xff"
                continue
            check = 40 if ((x // 24) + (y // 24)) % 2 else 0
            r = (x * 160 // max(1, w - 1) + check + seed * 7) % 200
            g = (y * 160 // max(1, h - 1) + check) % 200
            b = ((x + y) * 90 // max(1, w + h) + 40) % 200
            row += bytes((r, g, b))
        rows.append(bytes(row))
    raw = b"".join(rows)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) +
            _chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))
