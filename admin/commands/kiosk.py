"""`clubcard kiosk`: the counter screen of one outlet, on 127.0.0.1, talking to the Clubcard API."""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click


@click.command()
@click.option(
    "--api",
    "api_url",
    default=None,
    help="the Clubcard API, e.g. https://clubcard.example.gov.uk (remembered from --setup-qr)",
)
@click.option(
    "--setup-qr",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="a photo or screenshot of the QR code shown when the device key was created: sets the kiosk up",
)
@click.option("--device-key", default=None, help="the kiosk's device key (prefer the file or the variable)")
@click.option(
    "--device-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a file holding the device key, readable by its owner only (chmod 600)",
)
@click.option("--port", default=8100, show_default=True, type=int)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/kiosk"),
    show_default=True,
    help="where the offline outbox and caches live",
)
@click.option("--time-zone", default="Europe/London", show_default=True, help="the council's time zone")
@click.option("--sync-interval", default=5.0, show_default=True, type=float, help="seconds between syncs")
def kiosk(
    api_url: str | None,
    setup_qr: Path | None,
    device_key: str | None,
    device_key_file: Path | None,
    port: int,
    data_dir: Path,
    time_zone: str,
    sync_interval: float,
) -> None:
    """Serve the counter screen (camera or USB scanner), keep working offline, sync when back.

    The device key can also come from the CLUBCARD_DEVICE_KEY environment variable; after --setup-qr
    the key and the API address are kept in the data directory and need not be given again."""
    from kiosk.runtime import DeviceKeyProblem, build_kiosk, read_device_key, serve_kiosk

    api_url, device_key_file = _set_up(api_url, setup_qr, device_key, device_key_file, data_dir)
    try:
        key = read_device_key(device_key, device_key_file)
    except DeviceKeyProblem as problem:
        raise click.UsageError(str(problem)) from problem
    running = build_kiosk(api_url, key, data_dir, zone=time_zone, sync_interval_seconds=sync_interval)
    reached = running.counter.refresh_caches()
    server = serve_kiosk(running, port)
    running.syncer.start()
    click.echo(f"Kiosk for {running.counter.outlet_name()} on http://127.0.0.1:{port}/")
    if not reached:
        click.echo(f"  The API at {api_url} does not answer yet: the kiosk works offline until it does.")
    click.echo(f"  Outbox: {running.outbox.path}")
    try:
        server.serve_forever()
    finally:
        running.close()


def _set_up(
    api_url: str | None,
    setup_qr: Path | None,
    device_key: str | None,
    device_key_file: Path | None,
    data_dir: Path,
) -> tuple[str, Path | None]:
    """The API address and key file: from a set-up QR code (kept for next time), as given, or as kept."""
    from kiosk.qr_setup import SetupProblem, read_setup_qr, save_setup, saved_api_url, saved_key_file
    from kiosk.runtime import DEVICE_KEY_VARIABLE

    if setup_qr is not None:
        try:
            setup = read_setup_qr(setup_qr)
        except SetupProblem as problem:
            raise click.ClickException(str(problem)) from problem
        saved = save_setup(setup, data_dir)
        click.echo(f"Set up for {setup.api_url}; the device key is kept in {saved} (readable by you only).")
        api_url = api_url or setup.api_url
        device_key_file = device_key_file or saved
    api_url = api_url or saved_api_url(data_dir)
    if api_url is None:
        raise click.UsageError("give the API address (--api URL), or set the kiosk up with --setup-qr IMAGE")
    if device_key is None and device_key_file is None and not os.environ.get(DEVICE_KEY_VARIABLE):
        device_key_file = saved_key_file(data_dir)
    return api_url, device_key_file


def demo_kiosk(context: Any, keys_path: Path, api_url: str, port: int, *, start: bool) -> None:
    """Say how to get a demo card to scan; with `start`, run a kiosk for a demo outlet beside the API."""
    from ledger.cards.render import qr_png

    demo = json.loads(keys_path.read_text())
    name, card = next((n, c) for n, c in demo["cards"].items() if "leisure-vouchers" in c["schemes"])
    number = context.keyring.verify(card["token"]).card_number
    picture = context.settings.data_directory / "demo-card.png"
    picture.write_bytes(qr_png(card["token"]))
    outlet_name, device = next(iter(demo["keys"]["devices"].items()))
    if not start:
        click.echo(f"\nThe counter screen for {outlet_name}: clubcard serve --kiosk")
    else:
        directory = context.settings.data_directory / "kiosk"
        directory.mkdir(parents=True, exist_ok=True)
        from kiosk.qr_setup import write_key_file

        key_file = write_key_file(directory / "device.key", device["key"])
        arguments = ["--api", api_url, "--device-key-file", str(key_file), "--port", str(port)]
        process = subprocess.Popen(
            [sys.executable, "-m", "admin.cli", "kiosk", *arguments, "--data-dir", str(directory)]
        )
        atexit.register(process.terminate)
        click.echo(f"\nKiosk for {outlet_name}: http://127.0.0.1:{port}/")
    click.echo(f"  Demo card to scan ({name}): {picture}")
    click.echo(f"  Show it to the camera, or type its number: {number}")
