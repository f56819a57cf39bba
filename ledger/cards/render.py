"""Printable renderings of a Clubcard: the QR code as PNG or SVG, and an ID-1 sized PDF card."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import qrcode
import qrcode.constants
import qrcode.image.svg
from reportlab.lib.colors import Color, HexColor, black, white
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

# Level Q survives ~25% damage: cards get scuffed in wallets, and kiosks scan through phone cases.
ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE = 4  # modules; the QR specification's minimum, so scanners find the edges.

CARD_WIDTH = 85.6 * mm  # ISO/IEC 7810 ID-1, the size of a bank card
CARD_HEIGHT = 54 * mm
_MARGIN = 3.5 * mm
_QR_SIZE = 34 * mm  # quiet zone included; about 0.55 mm a module, easy for 300 dpi printers
_QR_INSET = 1.5 * mm  # the white quiet zone may run into the margin
_TEXT_FONT = "Helvetica"
_BOLD_FONT = "Helvetica-Bold"
_GREY = HexColor("#555555")
# Dark enough for white text to read clearly on every badge.
_BADGE_COLOURS = ("#1B5E20", "#0D47A1", "#4A148C", "#B71C1C", "#BF360C", "#006064", "#880E4F", "#37474F")
_BADGE_HEIGHT = 5 * mm
_BADGE_GAP = 1.2 * mm
_BADGE_FONT_SIZE = 6.0


def qr_code(token: str) -> qrcode.QRCode:
    """Return the fitted level-Q QR code for ``token``, with the standard quiet zone."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE)
    code.add_data(token)
    code.make(fit=True)
    return code


def qr_matrix(token: str) -> list[list[bool]]:
    """Return the QR modules for ``token`` row by row (True is dark), quiet zone included."""
    return [list(row) for row in qr_code(token).get_matrix()]


def qr_png(token: str, box_size: int = 8) -> bytes:
    """Return ``token`` as a black-on-white PNG QR code with ``box_size`` pixels a module."""
    code = qr_code(token)
    code.box_size = box_size
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    return out.getvalue()


def qr_svg(token: str) -> bytes:
    """Return ``token`` as an SVG QR code drawn as a single path, one unit a module."""
    image = qr_code(token).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="utf-8")


def card_pdf(
    token: str, card_number: str, scheme_names: Sequence[str], council_name: str = "Clubcard"
) -> bytes:
    """Return a one-page ID-1 PDF card: council name, scheme badges, QR code and card number."""
    out = io.BytesIO()
    # invariant=1 drops timestamps and random ids, so the same card always prints the same bytes.
    pdf = Canvas(out, pagesize=(CARD_WIDTH, CARD_HEIGHT), invariant=1, pageCompression=1)
    pdf.setTitle(f"{council_name} card")
    pdf.setCreator("Clubcard")
    qr_left = CARD_WIDTH - _QR_INSET - _QR_SIZE
    qr_bottom = CARD_HEIGHT - _QR_INSET - _QR_SIZE
    matrix = qr_matrix(token)
    _draw_qr(pdf, matrix, qr_left, qr_bottom, _QR_SIZE)
    column_width = qr_left - _MARGIN - 1 * mm
    name_size = _fit_font_size(council_name, _BOLD_FONT, column_width, 11)
    pdf.setFillColor(black)
    pdf.setFont(_BOLD_FONT, name_size)
    pdf.drawString(_MARGIN, CARD_HEIGHT - _MARGIN - name_size * 0.75, council_name)
    badges_top = CARD_HEIGHT - _MARGIN - 8 * mm
    badges_bottom = qr_bottom + _QR_SIZE * QUIET_ZONE / len(matrix)
    _draw_badges(pdf, scheme_names, _MARGIN, badges_top, column_width, badges_top - badges_bottom)
    _draw_card_number(pdf, card_number)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _draw_qr(pdf: Canvas, matrix: list[list[bool]], left: float, bottom: float, size: float) -> None:
    module = size / len(matrix)
    pdf.setFillColor(white)
    pdf.rect(left, bottom, size, size, stroke=0, fill=1)
    # One filled path of horizontal runs: vector modules stay sharp at any printer resolution,
    # and a single path avoids the hairline seams that separately filled squares can show.
    path = pdf.beginPath()
    top = bottom + size
    for row_index, row in enumerate(matrix):
        y = top - (row_index + 1) * module
        for start, length in _dark_runs(row):
            path.rect(left + start * module, y, length * module, module)
    pdf.setFillColor(black)
    pdf.drawPath(path, stroke=0, fill=1)


def _dark_runs(row: Sequence[bool]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    start = None
    for index, dark in enumerate([*row, False]):
        if dark and start is None:
            start = index
        elif not dark and start is not None:
            runs.append((start, index - start))
            start = None
    return runs


def _draw_card_number(pdf: Canvas, card_number: str) -> None:
    width = CARD_WIDTH - 2 * _MARGIN
    pdf.setFillColor(_GREY)
    pdf.setFont(_TEXT_FONT, 5.5)
    pdf.drawString(_MARGIN, _MARGIN + 6.2 * mm, "CARD NUMBER")
    size = _fit_font_size(card_number, _BOLD_FONT, width, 16)
    pdf.setFillColor(black)
    pdf.setFont(_BOLD_FONT, size)
    pdf.drawString(_MARGIN, _MARGIN + 0.5 * mm, card_number)


def _fit_font_size(text: str, font: str, width: float, largest: float) -> float:
    natural = stringWidth(text, font, 1) or 1
    return min(largest, width / natural)


@dataclass(frozen=True)
class _Badge:
    label: str
    colour: Color
    x: float
    y: float
    width: float
    logo: bool = True


def _badge_colour(name: str) -> Color:
    # Hash the name so a scheme keeps its colour on every card, whatever order schemes come in.
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return HexColor(_BADGE_COLOURS[digest[0] % len(_BADGE_COLOURS)])


def _badge_width(label: str, logo: bool = True) -> float:
    lead = _BADGE_HEIGHT if logo else 1.5 * mm
    return lead + stringWidth(label, _BOLD_FONT, _BADGE_FONT_SIZE) + 1.5 * mm


def _shorten(label: str, max_width: float) -> str:
    while len(label) > 1 and _badge_width(label) > max_width:
        label = label[:-2] + "…"
    return label


def _row_y(top: float, row: int) -> float:
    return top - (row + 1) * _BADGE_HEIGHT - row * _BADGE_GAP


def _layout_badges(
    names: Sequence[str], left: float, top: float, width: float, height: float
) -> list[_Badge]:
    rows = max(1, int((height + _BADGE_GAP) // (_BADGE_HEIGHT + _BADGE_GAP)))
    badges: list[_Badge] = []
    x, row = left, 0
    for index, name in enumerate(names):
        label = _shorten(name, width)
        if x + _badge_width(label) > left + width:
            x, row = left, row + 1
        if row >= rows:
            return _with_overflow(badges, len(names) - index, left, width, _row_y(top, rows - 1))
        badges.append(_Badge(label, _badge_colour(name), x, _row_y(top, row), _badge_width(label)))
        x += _badge_width(label) + _BADGE_GAP
    return badges


def _with_overflow(
    badges: list[_Badge], hidden: int, left: float, width: float, last_y: float
) -> list[_Badge]:
    # Say how many schemes did not fit rather than silently dropping them; make room on the
    # last row by hiding badges from its end until the "+N" badge fits.
    while True:
        last = badges[-1] if badges and badges[-1].y == last_y else None
        x = last.x + last.width + _BADGE_GAP if last else left
        label = f"+{hidden}"
        if last is None or x + _badge_width(label, logo=False) <= left + width:
            return [*badges, _Badge(label, _GREY, x, last_y, _badge_width(label, logo=False), logo=False)]
        badges = badges[:-1]
        hidden += 1


def _draw_badges(
    pdf: Canvas, names: Sequence[str], left: float, top: float, width: float, height: float
) -> None:
    radius = _BADGE_HEIGHT / 2
    for badge in _layout_badges(names, left, top, width, height):
        pdf.setFillColor(badge.colour)
        pdf.roundRect(badge.x, badge.y, badge.width, _BADGE_HEIGHT, 1.2 * mm, stroke=0, fill=1)
        pdf.setFont(_BOLD_FONT, _BADGE_FONT_SIZE)
        baseline = badge.y + radius - _BADGE_FONT_SIZE * 0.35
        if badge.logo:
            # A white disc with the initial stands in for a scheme logo without any image files.
            pdf.setFillColor(white)
            pdf.circle(badge.x + radius, badge.y + radius, radius - 0.8 * mm, stroke=0, fill=1)
            pdf.setFillColor(badge.colour)
            pdf.drawCentredString(badge.x + radius, baseline, badge.label[:1].upper())
        pdf.setFillColor(white)
        text_x = badge.x + (_BADGE_HEIGHT if badge.logo else 1.5 * mm)
        pdf.drawString(text_x, baseline, badge.label)
