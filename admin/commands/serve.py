"""`clubcard serve` and `clubcard migrate`: run the service, create or upgrade the schema."""

from __future__ import annotations

import json

import click

from admin.commands.common import open_context
from ledger.settings import Settings

FIRST_ADMIN_KEY_HINT = (
    "\nThe database is empty. Create the first admin key (shown once), with the same CLUBCARD_* settings:\n"
    '  clubcard keys create --role admin --label "first admin"'
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn worker processes")
@click.option("--no-demo", is_flag=True, help="do not seed the demo council on first run")
@click.option("--kiosk", "with_kiosk", is_flag=True, help="also start a demo kiosk on port + 100")
@click.option("--no-worker", is_flag=True, help="run no job worker here (run `clubcard worker` elsewhere)")
def serve(host: str, port: int, workers: int, no_demo: bool, with_kiosk: bool, no_worker: bool) -> None:
    """Run the service (migrating the database, seeding the demo council on first run)."""
    from admin.commands.worker import start_worker_process
    from admin.demo_staff import print_demo_staff, seed_demo_staff
    from admin.seed import is_seeded, seed_demo
    from admin.server import port_problem, run_server
    from api.limits import unshared_storage_problem

    if busy := port_problem(host, port):  # before anything is printed, created or seeded
        raise click.ClickException(busy)
    if unshared := unshared_storage_problem(workers, Settings.from_environment().redis_url):
        raise click.UsageError(unshared)
    context = open_context(create_missing_keys=True)
    keys_path = context.settings.data_directory / "demo-keys.json"
    staff_path = context.settings.data_directory / "demo-staff.json"
    if not no_demo and not is_seeded(context):
        click.echo("Seeding the demo council (five schemes, ten outlets, fifty residents)...")
        seed_demo(context, keys_path)
        seed_demo_staff(context, staff_path)
    base = f"http://{host}:{port}"
    click.echo(f"\nClubcard is running on {context.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"  API:          {base}/api/v1")
    click.echo(f"  API docs:     {base}/api/docs")
    click.echo(f"  OpenAPI:      {base}/api/openapi.json")
    click.echo(f"  Card keys:    {base}/.well-known/clubcard-keys")
    if keys_path.exists():
        keys = json.loads(keys_path.read_text())["keys"]
        click.echo(f"\nDemo keys (also in {keys_path}):")
        for role in ("admin", "scheme_manager", "caseworker", "finance", "auditor"):
            click.echo(f"  {role:15} {keys[role]}")
        for name, device in list(keys["devices"].items())[:3]:
            click.echo(f"  device         {device['key']}  ({name})")
    print_demo_staff(staff_path, base)
    if keys_path.exists():
        from admin.demo_resident import print_demo_resident

        print_demo_resident(keys_path, base)
    if no_demo and not is_seeded(context):
        click.echo(FIRST_ADMIN_KEY_HINT)
    if keys_path.exists():
        from admin.commands.kiosk import demo_kiosk

        demo_kiosk(context, keys_path, base, port + 100, start=with_kiosk)
    context.engine.dispose()
    job_worker = None if no_worker else start_worker_process()  # runs bulk issuances queued by the API
    try:
        run_server(host, port, workers)
    finally:
        if job_worker is not None:
            job_worker.terminate()  # stops after its chunk in flight; the job resumes on the next start
            job_worker.wait(timeout=30)


@click.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from ledger.db.bootstrap import open_database

    engine = open_database(Settings.from_environment().database_url)
    click.echo(f"database at the latest schema: {engine.url.render_as_string(hide_password=True)}")
