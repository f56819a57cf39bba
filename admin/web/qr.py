"""QR codes as inline SVG: no script, no image request, safe under the CSP."""

from __future__ import annotations

import base64
import io

import qrcode
import qrcode.image.svg


def qr_svg(data: str, label: str) -> str:
    """An accessible SVG QR code of `data` (the label is read out by screen readers)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode()
    svg = svg[svg.index("<svg") :]
    return svg.replace("<svg", f'<svg role="img" aria-label="{label}"', 1)


def qr_png_data_uri(data: str) -> str:
    """A PNG QR code of `data` as a data: URI, for a download link (no image request, no file kept)."""
    buffer = io.BytesIO()
    qrcode.make(data, box_size=8, border=4).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
