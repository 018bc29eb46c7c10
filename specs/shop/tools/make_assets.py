#!/usr/bin/env python3
"""Regenerates the binary files the shop example specs use. Standard library only.

    python3 specs/shop/tools/make_assets.py

writes, deterministically (the same bytes on every run and machine):

- ``specs/shop/assets/logo.png``            the shop's logo (shown at 140 x 44 CSS px)
- ``specs/shop/assets/banner-summer.png``   the newsletter's hero banner (600 x 200)
- ``specs/shop/assets/products/*.png``      product thumbnails for the abandoned cart and the
                                            newsletter (shown at 80 x 80 CSS px, drawn at 2x)
- ``specs/shop/invoices/<order_id>.pdf``    one small invoice per order in
                                            ``data/orders.json`` and ``data/fixtures/order-*.json``
                                            (the order confirmation attaches it by a templated path)

The images are flat vector shapes rasterised here with 4x4 supersampling; the PDFs use the
standard Helvetica fonts (WinAnsiEncoding, so accents and the euro sign print). Every file must
stay under 10 kB (10,000 bytes); the script fails if one does not. Run it again after adding an
order to the sample data or fixtures, so that order has its invoice.
"""

from __future__ import annotations

import json
import math
import struct
import sys
import unicodedata
import zlib
from decimal import Decimal
from pathlib import Path

SHOP = Path(__file__).resolve().parent.parent
MAX_BYTES = 10_000

# ---------------------------------------------------------------------------------------------
# PNG
# ---------------------------------------------------------------------------------------------


def hexcolor(h: str, a: int = 255) -> tuple[int, int, int, int]:
    h = h.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), a)


class Shape:
    """A filled region: a containment test plus a bounding box (x0, y0, x1, y1)."""

    def __init__(self, test, bbox, color):
        self.test, self.bbox, self.color = test, bbox, color

    def contains(self, x: float, y: float) -> bool:
        x0, y0, x1, y1 = self.bbox
        return x0 <= x <= x1 and y0 <= y <= y1 and self.test(x, y)


def circle(cx, cy, r, color):
    return Shape(lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r, (cx - r, cy - r, cx + r, cy + r), color)


def ring(cx, cy, r_out, r_in, color, clip=None):
    def t(x, y):
        d = (x - cx) ** 2 + (y - cy) ** 2
        return r_in * r_in <= d <= r_out * r_out and (clip is None or clip(x, y))

    return Shape(t, (cx - r_out, cy - r_out, cx + r_out, cy + r_out), color)


def ellipse(cx, cy, rx, ry, color, angle=0.0):
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def t(x, y):
        dx, dy = x - cx, y - cy
        u, v = dx * c + dy * s, -dx * s + dy * c
        return (u / rx) ** 2 + (v / ry) ** 2 <= 1.0

    r = max(rx, ry)
    return Shape(t, (cx - r, cy - r, cx + r, cy + r), color)


def rrect(x0, y0, x1, y1, r, color):
    def t(x, y):
        qx = max(x0 + r - x, 0, x - (x1 - r))
        qy = max(y0 + r - y, 0, y - (y1 - r))
        return qx * qx + qy * qy <= r * r

    return Shape(t, (x0, y0, x1, y1), color)


def capsule(ax, ay, bx, by, r, color):
    """A thick line segment with round ends."""
    vx, vy = bx - ax, by - ay
    ll = vx * vx + vy * vy or 1e-9

    def t(x, y):
        k = max(0.0, min(1.0, ((x - ax) * vx + (y - ay) * vy) / ll))
        dx, dy = x - (ax + k * vx), y - (ay + k * vy)
        return dx * dx + dy * dy <= r * r

    return Shape(t, (min(ax, bx) - r, min(ay, by) - r, max(ax, bx) + r, max(ay, by) + r), color)


def over(dst, src):
    sa = src[3] / 255.0
    if sa >= 1.0:
        return src
    da = dst[3] / 255.0
    oa = sa + da * (1 - sa)
    if oa <= 0:
        return (0, 0, 0, 0)
    return tuple(
        [(src[i] * sa + dst[i] * da * (1 - sa)) / oa for i in range(3)] + [oa * 255.0]
    )


def rasterize(w, h, bg, shapes, ss=4):
    """RGBA rows. Pixels whose corners and centre agree are not supersampled."""

    def sample(x, y):
        col = bg
        for s in shapes:
            if s.contains(x, y):
                col = over(col, s.color)
        return col

    rows = []
    for py in range(h):
        row = []
        for px in range(w):
            probes = [sample(px + dx, py + dy) for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0.5))]
            if all(p == probes[0] for p in probes):
                row.append(tuple(int(round(c)) for c in probes[0]))
                continue
            acc = [0.0, 0.0, 0.0, 0.0]
            for i in range(ss):
                for j in range(ss):
                    c = sample(px + (i + 0.5) / ss, py + (j + 0.5) / ss)
                    a = c[3]
                    acc[0] += c[0] * a
                    acc[1] += c[1] * a
                    acc[2] += c[2] * a
                    acc[3] += a
            n = ss * ss
            a = acc[3] / n
            if acc[3] > 0:
                row.append(tuple(int(round(acc[k] / acc[3])) for k in range(3)) + (int(round(a)),))
            else:
                row.append((0, 0, 0, 0))
        rows.append(row)
    return rows


def png_bytes(rows, alpha: bool) -> bytes:
    h, w = len(rows), len(rows[0])
    bpp = 4 if alpha else 3
    raw = bytearray()
    prev = bytes(w * bpp)
    for row in rows:
        line = bytes(v for px in row for v in (px if alpha else px[:3]))
        # Pick the filter with the smallest sum of absolute values (the usual heuristic).
        best = None
        for ftype in range(5):
            out = bytearray(len(line))
            for i, v in enumerate(line):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                if ftype == 0:
                    p = 0
                elif ftype == 1:
                    p = a
                elif ftype == 2:
                    p = b
                elif ftype == 3:
                    p = (a + b) // 2
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                out[i] = (v - p) & 0xFF
            score = sum(x if x < 128 else 256 - x for x in out)
            if best is None or score < best[0]:
                best = (score, ftype, out)
        raw.append(best[1])
        raw += best[2]
        prev = line

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6 if alpha else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + chunk(b"IEND", b"")
    )


# Brand colours.
OLIVE = "#4f6228"
OLIVE_DARK = "#2f3a1a"
OLIVE_LIGHT = "#8a9a4a"
CREAM = "#f7f3ea"
PURPLE = "#4a3550"


def logo():
    """Round olive-branch mark and a geometric lower-case wordmark `olivo` (280 x 88)."""
    ink = hexcolor(OLIVE_DARK)
    s = [circle(44, 44, 40, hexcolor(OLIVE))]
    leaf = hexcolor(CREAM)
    ax, ay, bx, by = 24, 66, 62, 26
    s.append(capsule(ax, ay, bx, by, 2.2, leaf))
    at = lambda t: (ax + (bx - ax) * t, ay + (by - ay) * t)
    for (t, ang) in ((0.30, -100), (0.45, 10), (0.65, -95), (0.80, 5), (1.0, -46)):
        px, py = at(t)
        r = math.radians(ang)
        s.append(ellipse(px + 9 * math.cos(r), py + 9 * math.sin(r), 10, 4.2, leaf, ang))
    px, py = at(0.18)
    s.append(ellipse(px + 9, py + 5, 5.5, 7.5, hexcolor("#c9b98a"), -30))
    x = 104
    s.append(ring(x + 20, 54, 20, 12.5, ink))  # o
    x += 48
    s.append(capsule(x, 12, x, 70, 4, ink))  # l
    x += 17
    s.append(capsule(x, 38, x, 70, 4, ink))  # i
    s.append(circle(x, 22, 5, ink))
    x += 14
    s.append(capsule(x + 4, 38, x + 19, 70, 4, ink))  # v
    s.append(capsule(x + 19, 70, x + 34, 38, 4, ink))
    x += 42
    s.append(ring(x + 20, 54, 20, 12.5, ink))  # o
    return rasterize(280, 88, (0, 0, 0, 0), s)


def product(kind):
    """160 x 160 thumbnails on a rounded pale tile."""
    tiles = {"mug": "#f3e3d3", "oil": "#eef0dc", "towel": "#e6ece2", "board": "#f4ecdf"}
    tile = hexcolor(tiles[kind])
    s = [rrect(0, 0, 160, 160, 18, tile)]
    if kind == "mug":
        clay, dark = hexcolor("#c8643b"), hexcolor("#9e4a28")
        s.append(capsule(26, 128, 134, 128, 6, hexcolor("#c2ab94")))  # saucer
        s.append(ring(110, 88, 20, 11, clay, clip=lambda x, y: x > 100))  # handle
        s.append(rrect(40, 54, 112, 126, 12, clay))
        s.append(rrect(40, 54, 112, 64, 5, dark))
        s.append(capsule(62, 28, 62, 42, 3, hexcolor("#d8bfa8")))
        s.append(capsule(78, 22, 78, 42, 3, hexcolor("#d8bfa8")))
        s.append(capsule(94, 28, 94, 42, 3, hexcolor("#d8bfa8")))
        s.append(ellipse(76, 96, 13, 6, hexcolor("#f3e3d3", 200), -25))
    elif kind == "oil":
        tin = hexcolor(OLIVE)
        s.append(rrect(70, 24, 90, 42, 3, hexcolor("#c9a227")))
        s.append(rrect(46, 38, 114, 134, 8, tin))
        s.append(rrect(46, 38, 114, 46, 4, hexcolor(OLIVE_DARK)))
        s.append(rrect(46, 66, 114, 112, 0, hexcolor(CREAM)))
        s.append(ellipse(76, 92, 10, 7, hexcolor(OLIVE), -30))
        s.append(ellipse(91, 82, 10, 3.6, hexcolor(OLIVE_LIGHT), -30))
        s.append(capsule(56, 72, 104, 72, 1.2, hexcolor("#c9a227")))
        s.append(capsule(56, 106, 104, 106, 1.2, hexcolor("#c9a227")))
    elif kind == "towel":
        green = hexcolor(OLIVE)
        s.append(ring(80, 34, 10, 6, green, clip=lambda x, y: y < 38))
        s.append(rrect(36, 34, 124, 132, 7, hexcolor("#d8d2c2")))
        s.append(rrect(38, 36, 122, 130, 6, hexcolor("#fbf8f0")))
        for y0, y1 in ((50, 58), (63, 67), (99, 103), (108, 116)):
            s.append(rrect(38, y0, 122, y1, 0, green))
        s.append(rrect(38, 120, 122, 130, 0, hexcolor("#ece6d6")))
    elif kind == "board":
        wood, grain = hexcolor("#b9834d"), hexcolor("#a06d3b")
        s.append(rrect(100, 76, 140, 104, 12, wood))
        s.append(rrect(24, 46, 114, 132, 14, wood))
        s.append(circle(129, 90, 5, tile))
        for (x0, x1, y) in ((36, 80, 64), (50, 104, 82), (34, 70, 100), (62, 102, 116)):
            s.append(capsule(x0, y, x1, y, 1.3, grain))
        s.append(ellipse(58, 104, 9, 6.5, hexcolor(OLIVE), 20))
        s.append(ellipse(76, 110, 9, 6.5, hexcolor(PURPLE), -10))
        s.append(ellipse(70, 92, 12, 4, hexcolor(OLIVE_LIGHT), -35))
    return rasterize(160, 160, (0, 0, 0, 0), s)


def banner():
    """Summer hero: sun, olive groves on hills and an olive branch (600 x 200, opaque)."""
    s = [circle(470, 78, 44, hexcolor("#f2b950"))]
    s.append(ellipse(110, 252, 270, 100, hexcolor("#b5bf78")))
    s.append(ellipse(500, 272, 300, 110, hexcolor("#97a458")))
    for (x, y, r) in ((330, 158, 13), (362, 154, 11), (400, 153, 12), (530, 163, 12)):
        s.append(capsule(x, y + r - 2, x, y + r + 8, 2.5, hexcolor("#6a5538")))
        s.append(circle(x, y, r, hexcolor("#5d6b30")))
    s.append(ellipse(300, 312, 420, 110, hexcolor("#6f7d3a")))
    ax, ay, bx, by = -10, 18, 250, 100
    s.append(capsule(ax, ay, bx, by, 3.2, hexcolor("#6a5538")))
    at = lambda t: (ax + (bx - ax) * t, ay + (by - ay) * t)
    # Leaves grow from the stem: each is an ellipse whose near end touches it.
    for i, (t, ang) in enumerate([(0.16, -45), (0.24, 62), (0.36, -40), (0.45, 70), (0.56, -48), (0.66, 58), (0.77, -38), (0.88, 66), (0.97, 10)]):
        px, py = at(t)
        col = hexcolor("#55652a") if i % 2 else hexcolor("#7d8c45")
        r = math.radians(ang)
        s.append(ellipse(px + 19 * math.cos(r), py + 19 * math.sin(r), 21, 6.5, col, ang))
    for (t, c) in ((0.30, PURPLE), (0.50, OLIVE), (0.72, PURPLE)):
        px, py = at(t)
        s.append(capsule(px, py, px + 2, py + 12, 1.4, hexcolor("#6a5538")))
        s.append(ellipse(px + 3, py + 22, 8, 10.5, hexcolor(c), -15))
    return rasterize(600, 200, hexcolor("#f6e7c8"), s, ss=3)


# ---------------------------------------------------------------------------------------------
# PDF invoices
# ---------------------------------------------------------------------------------------------

# Helvetica advance widths (1/1000 em) for ASCII 32..126 (Adobe's AFM).
HELV = [278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278] + [556] * 10 + [
    278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,
    722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556,
    556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556,
    500, 722, 500, 500, 500, 334, 260, 334, 584]
SPECIAL = {"€": 556, "•": 350, "×": 584, "«": 556, "»": 556, "–": 556, "—": 1000, "·": 278, "º": 365, "ª": 370, "Ø": 778, "ø": 611}


def text_width(s: str, size: float, bold=False) -> float:
    total = 0
    for ch in s:
        if ch in SPECIAL:
            total += SPECIAL[ch]
            continue
        base = unicodedata.normalize("NFD", ch)[0]
        o = ord(base)
        total += HELV[o - 32] if 32 <= o <= 126 else 556
    return total * size / 1000 * (1.06 if bold else 1.0)


def pdf_str(s: str) -> bytes:
    b = s.encode("cp1252", errors="replace")
    return b"(" + b.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


MONEY = {
    # locale: (group, decimal, symbol placement per currency)
    "es-ES": (".", ","),
    "es-AR": (".", ","),
    "es-MX": (",", "."),
    "en-US": (",", "."),
    "en-GB": (",", "."),
}


def money(amount: str, currency: str, locale: str) -> str:
    q = Decimal(amount).quantize(Decimal("0.01"))
    neg = q < 0
    ip, fp = f"{abs(q):.2f}".split(".")
    grp, dec = MONEY.get(locale, (",", "."))
    groups = []
    while len(ip) > 3:
        groups.insert(0, ip[-3:])
        ip = ip[:-3]
    groups.insert(0, ip)
    num = grp.join(groups) + dec + fp
    sign = "-" if neg else ""
    if currency == "EUR":
        return f"{sign}{num} €" if locale.startswith("es") else f"{sign}€{num}"
    if currency == "ARS":
        return f"{sign}$ {num}"
    sym = {"USD": "$" if locale == "en-US" else "US$", "MXN": "$" if locale == "es-MX" else "MX$", "GBP": "£"}.get(currency, currency + " ")
    return f"{sign}{sym}{num}"


def short_date(iso: str, locale: str) -> str:
    y, m, d = iso[:10].split("-")
    return f"{m}/{d}/{y}" if locale == "en-US" else f"{d}/{m}/{y}"


def wrap(s: str, width_pt: float, size: float) -> list[str]:
    words, lines, cur = s.split(" "), [], ""
    for w in words:
        cand = (cur + " " + w).strip()
        if text_width(cand, size) <= width_pt or not cur:
            cur = cand
        else:
            lines.append(cur)
            cur = w
    lines.append(cur)
    return lines


def invoice(o: dict) -> bytes:
    es = o["locale"].startswith("es")
    L = (lambda a, b: a) if es else (lambda a, b: b)
    cur, loc = o["currency"], o["locale"]
    ops: list[bytes] = []

    def text(x, y, s, size=9.5, bold=False, color=(0.17, 0.17, 0.17), right=False):
        if right:
            x -= text_width(s, size, bold)
        ops.append(b"BT %.3f %.3f %.3f rg /%s %.1f Tf %.2f %.2f Td %s Tj ET" % (
            *color, b"F2" if bold else b"F1", size, x, y, pdf_str(s)))

    def rule(x0, y, x1, w=0.6, gray=0.8):
        ops.append(b"%.2f G %.2f w %.2f %.2f m %.2f %.2f l S" % (gray, w, x0, y, x1, y))

    olive = (0.31, 0.38, 0.16)
    ops.append(b"0.310 0.384 0.157 rg 50 770 m 50 792 l 72 792 l 72 770 l f")
    text(80, 773, "Olivo", 20, True, olive)
    text(50, 752, "Olivo Casa y Cocina, S.L. · Calle Feria 42 · 41003 Sevilla · España", 8.5, color=(0.4, 0.4, 0.4))
    text(50, 740, L("NIF B-00000000 (ficticio) · ayuda@olivo.example", "Tax ID B-00000000 (fictitious) · help@olivo.example"), 8.5, color=(0.4, 0.4, 0.4))
    text(545, 775, L("FACTURA", "INVOICE"), 18, True, olive, right=True)
    text(545, 757, L("Nº ", "No. ") + "F-" + o["order_id"], 9.5, right=True)
    text(545, 744, L("Fecha: ", "Date: ") + short_date(o["order_date"], loc), 9.5, right=True)
    text(545, 731, L("Pedido: ", "Order: ") + o["order_id"], 9.5, right=True)

    a = o["shipping_address"]
    y = 700
    text(50, y, L("Facturar a", "Bill to"), 8.5, True, (0.4, 0.4, 0.4))
    y -= 14
    lines = [o["first_name"] + " " + o.get("last_name", ""), a["line1"], a.get("line2", ""),
             " ".join(p for p in (a["postal_code"], a["city"], a.get("region", "")) if p), a["country"], o["email"]]
    for line in lines:
        for part in wrap(line.strip(), 300, 9.5):
            if part:
                text(50, y, part, 9.5)
                y -= 12.5
    y -= 14
    cols = (50, 360, 440, 545)
    text(cols[0], y, L("Artículo", "Item"), 8.5, True, (0.4, 0.4, 0.4))
    text(cols[1] + 20, y, L("Cant.", "Qty"), 8.5, True, (0.4, 0.4, 0.4), right=True)
    text(cols[2] + 40, y, L("Precio", "Price"), 8.5, True, (0.4, 0.4, 0.4), right=True)
    text(cols[3], y, "Total", 8.5, True, (0.4, 0.4, 0.4), right=True)
    y -= 7
    rule(50, y, 545)
    y -= 15
    for it in o["items"]:
        name = it["name"] + (f" ({it['variant']})" if it.get("variant") else "")
        top = y
        for part in wrap(name, 290, 9.5):
            text(cols[0], y, part, 9.5)
            y -= 12
        text(cols[1] + 20, top, str(it["qty"]), 9.5, right=True)
        text(cols[2] + 40, top, money(it["unit_price"], cur, loc), 9.5, right=True)
        text(cols[3], top, money(it["line_total"], cur, loc), 9.5, right=True)
        y -= 5
    rule(50, y + 6, 545)
    y -= 10
    rows = [(L("Subtotal", "Subtotal"), money(o["subtotal"], cur, loc))]
    rows.append((L("Envío", "Shipping"), money(o["shipping"], cur, loc)))
    if Decimal(o["discount"]) != 0:
        rows.append((L("Descuento", "Discount") + (f" ({o['discount_code']})" if o.get("discount_code") else ""), "-" + money(o["discount"], cur, loc)))
    if not o["tax_included"]:
        rows.append((o["tax_label"], money(o["tax"], cur, loc)))
    for label, value in rows:
        text(360, y, label, 9.5)
        text(545, y, value, 9.5, right=True)
        y -= 14
    rule(360, y + 8, 545, 0.8, 0.5)
    y -= 6
    text(360, y, "Total", 11, True)
    text(545, y, money(o["total"], cur, loc), 11, True, right=True)
    if o["tax_included"]:
        y -= 14
        text(545, y, L("Incluye ", "Includes ") + o["tax_label"] + ": " + money(o["tax"], cur, loc), 8.5, color=(0.4, 0.4, 0.4), right=True)
    y -= 24
    text(50, y, L("Pago: ", "Payment: ") + o["payment_method"], 9)
    text(50, 60, L("Documento de ejemplo generado para las pruebas de mailspec. No es una factura válida.",
                   "Sample document generated for mailspec's examples. Not a valid invoice."), 8, color=(0.5, 0.5, 0.5))
    stream = zlib.compress(b"\n".join(ops), 9)

    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 6 0 R "
        b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Title " + pdf_str(L("Factura F-", "Invoice F-") + o["order_id"]) + b" /Producer (mailspec examples) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 7 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


# ---------------------------------------------------------------------------------------------


def write(path: Path, data: bytes) -> None:
    if len(data) > MAX_BYTES:
        sys.exit(f"{path.relative_to(SHOP)} is {len(data)} bytes, over the {MAX_BYTES}-byte budget")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    print(f"{path.relative_to(SHOP.parent)}  {len(data)} bytes")


def main() -> None:
    write(SHOP / "assets" / "logo.png", png_bytes(logo(), alpha=True))
    for kind in ("mug", "oil", "towel", "board"):
        write(SHOP / "assets" / "products" / f"{kind}.png", png_bytes(product(kind), alpha=True))
    write(SHOP / "assets" / "banner-summer.png", png_bytes(banner(), alpha=False))
    orders = json.loads((SHOP / "data" / "orders.json").read_text(encoding="utf-8"))
    for f in sorted((SHOP / "data" / "fixtures").glob("order-*.json")):
        orders += json.loads(f.read_text(encoding="utf-8"))
    for o in orders:
        write(SHOP / "invoices" / f"{o['order_id']}.pdf", invoice(o))


if __name__ == "__main__":
    main()
