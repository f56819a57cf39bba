"""Setting a kiosk up from the QR code the staff UI shows when an outlet's device key is created.

The code holds {"clubcard_kiosk": 1, "api": ..., "device_key": ...}. `clubcard kiosk --setup-qr IMAGE`
reads it from a photo or screenshot (zxing-cpp), keeps the key in a file only its owner can read and the
API address beside it, so the next start needs neither again.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import zxingcpp
from PIL import Image, UnidentifiedImageError

SETUP_VERSION = 1
KEY_FILE_NAME = "device.key"
API_FILE_NAME = "api.json"
MAX_IMAGE_BYTES = 20_000_000  # a phone photo fits; anything bigger is not a QR screenshot
MAX_KEY_LENGTH = 200
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
NOT_A_SETUP_CODE = "this QR code is not a Clubcard kiosk set-up code (a card's code, perhaps)"


class SetupProblem(ValueError):
    """The picture holds no kiosk set-up code, or a code that is not one; the message says what to do."""


@dataclasses.dataclass(frozen=True)
class KioskSetup:
    """Where the kiosk's API is and the device key it calls it with."""

    api_url: str
    device_key: str


def read_setup_qr(image_path: Path) -> KioskSetup:
    """The set-up a picture's QR code holds, or SetupProblem saying what is wrong with the picture."""
    if not image_path.is_file() or image_path.stat().st_size > MAX_IMAGE_BYTES:
        raise SetupProblem(
            f"{image_path} is not a picture file: save the QR code as a PNG or JPEG and try again"
        )
    try:
        with Image.open(image_path) as image:
            barcodes = zxingcpp.read_barcodes(
                image.convert("L"), formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
            )
    except (UnidentifiedImageError, OSError) as error:
        raise SetupProblem(f"{image_path} is not a picture this kiosk can read (PNG or JPEG)") from error
    if not barcodes:
        raise SetupProblem(
            f"no QR code was found in {image_path}: photograph the code on the device key page straight on"
        )
    return parse_setup(barcodes[0].text)


def parse_setup(text: str) -> KioskSetup:
    """The set-up in a QR code's text (the JSON the device key page encodes)."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise SetupProblem(
            "this QR code is not a Clubcard kiosk set-up code (a card's code, perhaps)"
        ) from error
    if not isinstance(document, dict) or document.get("clubcard_kiosk") != SETUP_VERSION:
        raise SetupProblem("this QR code is not a Clubcard kiosk set-up code (a card's code, perhaps)")
    api_url, device_key = document.get("api"), document.get("device_key")
    if (
        not isinstance(api_url, str)
        or urlsplit(api_url).scheme not in {"http", "https"}
        or not urlsplit(api_url).netloc
    ):
        raise SetupProblem("the set-up code names no API address: create a new device key and scan its code")
    if (
        not isinstance(device_key, str)
        or not 0 < len(device_key) <= MAX_KEY_LENGTH
        or not device_key.isprintable()
    ):
        raise SetupProblem("the set-up code holds no device key: create a new device key and scan its code")
    return KioskSetup(api_url.rstrip("/"), device_key)


def save_setup(setup: KioskSetup, data_directory: Path) -> Path:
    """Keep the key in data_directory/device.key (mode 600 from the start) and the API address beside it;
    returns the key file."""
    data_directory.mkdir(parents=True, exist_ok=True)
    key_file = write_key_file(data_directory / KEY_FILE_NAME, setup.device_key)
    (data_directory / API_FILE_NAME).write_text(json.dumps({"api": setup.api_url}) + "\n")
    return key_file


def write_key_file(key_file: Path, device_key: str) -> Path:
    """Write a device key to a file only its owner can read (the kiosk refuses any other)."""
    # Created 0600 before anything is written; an older file keeps its mode through O_CREAT, hence fchmod.
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(device_key + "\n")
    return key_file


def saved_api_url(data_directory: Path) -> str | None:
    """The API address a set-up code left in the data directory, if one did."""
    path = data_directory / API_FILE_NAME
    if not path.is_file():
        return None
    try:
        api_url = json.loads(path.read_text()).get("api")
    except (ValueError, AttributeError):
        return None
    return api_url if isinstance(api_url, str) and api_url else None


def saved_key_file(data_directory: Path) -> Path | None:
    """The device key file a set-up code left in the data directory, if one did."""
    key_file = data_directory / KEY_FILE_NAME
    return key_file if key_file.is_file() else None
