"""The `clubcard` command: serve, migrate, keys, audit, expiry; errors as one line, never a traceback."""

from __future__ import annotations

import sys

import click

from admin.commands.audit import audit
from admin.commands.bulk import issue_bulk
from admin.commands.expire import expire
from admin.commands.keys import keys
from admin.commands.kiosk import kiosk
from admin.commands.serve import migrate, serve
from admin.commands.settlements import settlements
from admin.commands.users import users
from admin.commands.worker import worker


@click.group()
def cli() -> None:
    """Clubcard: a council's entitlement schemes on one double-entry ledger."""


for command in (serve, migrate, keys, audit, expire, users):
    cli.add_command(command)
cli.add_command(kiosk)
cli.add_command(issue_bulk)
cli.add_command(worker)
cli.add_command(settlements)


def main() -> None:
    """Run the CLI; an expected failure prints one clear line and exits non-zero."""
    from ledger.errors import LedgerError

    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except LedgerError as error:
        click.echo(f"error: {error.detail}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # a bug: still one line for the operator, never a traceback
        click.echo(f"error: {type(error).__name__}: {error}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
