"""The staff pages; importing this package registers every view on the staff blueprint."""

from admin.web.pages import common, sign_in  # noqa: F401
