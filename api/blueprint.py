"""The Blueprint every REST resource uses: flask-smorest's, with its per-request set-up done once."""

from __future__ import annotations

from typing import Any

import flask_smorest
from flask_smorest.utils import resolve_schema_instance

from api.json_body import StrictJsonParser


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint: argument schemas made once, and the body parsed once (strictly)."""

    ARGUMENTS_PARSER = StrictJsonParser()

    def arguments(self, schema: Any, *args: Any, **kwargs: Any) -> Any:
        """As flask-smorest's, but a schema class is made into its instance here, at import, because
        webargs would otherwise build a new instance (deep-copying every field) on each request."""
        return super().arguments(resolve_schema_instance(schema), *args, **kwargs)
