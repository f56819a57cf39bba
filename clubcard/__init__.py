"""The composition root: settings, keys, clock, engine and unit of work, for the API, staff UI and CLI."""
