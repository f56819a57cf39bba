"""The insight section's form: uploading the council's ward list with each ward's deprivation decile."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from govuk_frontend_wtf.wtforms_widgets import GovFileInput, GovSubmitInput
from wtforms import SubmitField
from wtforms.validators import ValidationError

MAX_WARD_CSV_BYTES = 200_000


class WardUploadForm(FlaskForm):
    """A CSV of ward,deprivation_decile rows."""

    wards_file = FileField(
        "CSV file of wards",
        widget=GovFileInput(),
        description=(
            "Headings ward,deprivation_decile, then one ward a row, its decile from 1 (most deprived) to 10"
        ),
    )
    submit = SubmitField("Upload ward list", widget=GovSubmitInput())

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.csv_text: str = ""

    def validate_wards_file(self, field: FileField) -> None:
        """A UTF-8 CSV file under 200 kB (kept as text for the use case to read)."""
        upload = field.data
        if upload is None or not getattr(upload, "filename", ""):
            raise ValidationError("Choose a CSV file of wards")
        content = upload.read(MAX_WARD_CSV_BYTES + 1)
        if len(content) > MAX_WARD_CSV_BYTES:
            raise ValidationError("The CSV file must be smaller than 200 kB")
        try:
            self.csv_text = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ValidationError("The CSV file must be saved as UTF-8 text") from error
        if not self.csv_text.strip():
            raise ValidationError("The CSV file is empty")
