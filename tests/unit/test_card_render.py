"""Printed cards: every QR we render must scan back to a token that verifies."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from typing import Any

import pytest
import qrcode.constants
import zxingcpp
from PIL import Image

from ledger.cards.render import CARD_HEIGHT, CARD_WIDTH, card_pdf, qr_code, qr_matrix, qr_png, qr_svg
from ledger.cards.token import CardKeyring, generate_card_key, issue_token, new_card_number

KEY = generate_card_key()
KEYRING = CardKeyring.of(KEY)
ISSUED_AT = 1_767_225_600
SCHEMES = ["Holiday Activities & Food", "Leisure Pass", "Warm Spaces"]
SVG_NS = "{http://www.w3.org/2000/svg}"
# One SvgPathImage square per dark module: "M x,y H x+1 V y+1 H x z".
SVG_MODULE = re.compile(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H([\d.]+)z")


def _tokens() -> list[str]:
    longest_card = "Z" * 32
    return [issue_token(new_card_number(), ISSUED_AT, KEY), issue_token(longest_card, 2**64 - 1, KEY)]


def _decode_one(image: Image.Image) -> Any:
    # Only QR codes, as a kiosk scans: a 1-D reader can hallucinate a Codabar inside the QR modules.
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1, "exactly one QR code should be found"
    return results[0]


def _assert_scans_to(image: Image.Image, token: str) -> None:
    result = _decode_one(image)
    assert result.text == token
    assert result.extra["ECLevel"] == "Q"
    KEYRING.verify(result.text)


def _dark_modules(matrix: list[list[bool]]) -> set[tuple[int, int]]:
    return {(x, y) for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark}


def _png_modules(png: bytes, modules: int) -> set[tuple[int, int]]:
    image = Image.open(io.BytesIO(png)).convert("L")
    box = image.width // modules
    assert image.size == (modules * box, modules * box)
    # Sample each module at its centre, as a scanner would.
    return {
        (x, y)
        for y in range(modules)
        for x in range(modules)
        if image.getpixel((x * box + box // 2, y * box + box // 2)) < 128  # type: ignore[operator]
    }


def _svg_modules(svg: bytes) -> tuple[set[tuple[int, int]], int]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    size = int(Decimal(root.attrib["viewBox"].split()[2]))
    paths = root.findall(f"{SVG_NS}path")
    assert len(paths) == 1
    d = paths[0].attrib["d"]
    squares = SVG_MODULE.findall(d)
    assert "".join(SVG_MODULE.sub("", d).split()) == "", "path holds nothing but module squares"
    modules = set()
    for x, y, right, bottom, back in squares:
        assert (Decimal(right) - Decimal(x), Decimal(bottom) - Decimal(y), back) == (1, 1, x)
        modules.add((int(Decimal(x)), int(Decimal(y))))
    return modules, size


def _raster(modules: set[tuple[int, int]], size: int, box: int = 6) -> Image.Image:
    image = Image.new("L", (size * box, size * box), 255)
    for x, y in modules:
        image.paste(0, (x * box, y * box, (x + 1) * box, (y + 1) * box))
    return image


@pytest.mark.parametrize("token", _tokens())
def test_every_png_we_print_decodes_to_a_token_that_verifies(token: str) -> None:
    _assert_scans_to(Image.open(io.BytesIO(qr_png(token))), token)


@pytest.mark.parametrize("box_size", [3, 8, 12])
def test_the_png_box_size_sets_pixels_per_module(box_size: int) -> None:
    token = _tokens()[0]
    image = Image.open(io.BytesIO(qr_png(token, box_size=box_size)))
    assert image.size == (len(qr_matrix(token)) * box_size,) * 2
    _assert_scans_to(image, token)


def test_the_longest_token_fits_qr_version_13_at_level_q() -> None:
    for token in _tokens():
        code = qr_code(token)
        assert code.error_correction == qrcode.constants.ERROR_CORRECT_Q
        assert code.version <= 13
        assert int(_decode_one(Image.open(io.BytesIO(qr_png(token)))).extra["Version"]) <= 13


def test_the_png_carries_exactly_the_modules_of_the_qr_matrix_with_a_quiet_zone() -> None:
    token = _tokens()[0]
    matrix = qr_matrix(token)
    assert _png_modules(qr_png(token), len(matrix)) == _dark_modules(matrix)
    assert not any(matrix[0]) and not any(row[0] for row in matrix), "4-module quiet zone"
    assert not any(any(row) for row in matrix[:4] + matrix[-4:])


def test_the_svg_is_well_formed_and_draws_the_same_modules_as_the_png() -> None:
    token = _tokens()[0]
    matrix = qr_matrix(token)
    svg_modules, size = _svg_modules(qr_svg(token))
    assert size == len(matrix)
    assert svg_modules == _dark_modules(matrix) == _png_modules(qr_png(token), len(matrix))


def test_the_svg_path_scans_to_the_token_when_painted() -> None:
    token = _tokens()[1]
    modules, size = _svg_modules(qr_svg(token))
    _assert_scans_to(_raster(modules, size), token)


def _pdf_page(pdf: bytes) -> Any:
    pdfium = pytest.importorskip("pypdfium2", reason="pypdfium2 rasterizes the PDF as a printer would")
    return pdfium.PdfDocument(pdf)[0]


def _pdf_text(page: Any) -> str:
    return str(page.get_textpage().get_text_range())


@pytest.mark.parametrize("dpi", [150, 300])
def test_every_pdf_card_we_print_scans_to_a_token_that_verifies(dpi: int) -> None:
    for token in _tokens():
        page = _pdf_page(card_pdf(token, "CC-7Q4M-2K9X-HT3P-R8VD", SCHEMES, "Anytown Borough Council"))
        _assert_scans_to(page.render(scale=dpi / 72).to_pil(), token)


def test_the_pdf_is_one_page_the_size_of_a_bank_card() -> None:
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument(card_pdf(_tokens()[0], "CC-7Q4M-2K9X-HT3P-R8VD", SCHEMES))
    assert len(document) == 1
    width, height = document[0].get_size()
    assert (width, height) == pytest.approx((CARD_WIDTH, CARD_HEIGHT), abs=0.01)
    assert (width * 25.4 / 72, height * 25.4 / 72) == pytest.approx((85.6, 54.0), abs=0.01)


def test_the_pdf_shows_council_schemes_and_card_number_and_nothing_personal() -> None:
    token = _tokens()[0]
    page = _pdf_page(card_pdf(token, "CC-7Q4M-2K9X-HT3P-R8VD", SCHEMES, "Anytown Borough Council"))
    words = _pdf_text(page).split()
    expected = ["Anytown", "Borough", "Council", "CARD", "NUMBER", "CC-7Q4M-2K9X-HT3P-R8VD"]
    for scheme in SCHEMES:
        expected += [scheme[0], *scheme.split()]  # the badge's initial "logo", then its name
    assert sorted(words) == sorted(expected)
    assert token not in _pdf_text(page), "the token is only in the QR, not printed as text"


def test_schemes_that_do_not_fit_are_counted_rather_than_dropped_silently() -> None:
    schemes = [f"Scheme number {i}" for i in range(1, 21)]
    page = _pdf_page(card_pdf(_tokens()[0], "CC-7Q4M-2K9X-HT3P-R8VD", schemes))
    text = _pdf_text(page)
    shown = [s for s in schemes if re.search(rf"{s}\b", text)]
    hidden = re.findall(r"\+(\d+)", text)
    assert shown and hidden
    assert len(shown) + int(hidden[0]) == len(schemes)


def test_a_long_scheme_name_is_shortened_to_fit_its_badge() -> None:
    name = "The Extremely Long Winter Fuel and Warm Homes Support Scheme"
    page = _pdf_page(card_pdf(_tokens()[0], "CC-7Q4M-2K9X-HT3P-R8VD", [name]))
    assert name not in _pdf_text(page)
    assert "…" in _pdf_text(page)


def test_the_same_card_always_renders_to_the_same_pdf_bytes() -> None:
    token = _tokens()[0]
    assert card_pdf(token, "CC-1", SCHEMES) == card_pdf(token, "CC-1", SCHEMES)
