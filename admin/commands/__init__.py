"""The `clubcard` subcommands, one module per group."""
