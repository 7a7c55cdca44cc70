"""Forms of the import pages: the file, and the mapping of our columns to its headers."""

from __future__ import annotations

from django import forms

from agrega.core.errors import ApplicationError
from agrega.core.web import BootstrapFormMixin

from .filtersets import ImportJobFilterSet
from .layout import COLUMNS


class ImportFilterForm(BootstrapFormMixin, ImportJobFilterSet.form_class()):
    """The Importações filter bar: the fields of ``ImportJobFilterSet`` (one declaration
    for the page, the API and the CLI)."""


class UploadForm(BootstrapFormMixin, forms.Form):
    file = forms.FileField(
        label="Arquivo CSV",
        help_text="Separado por ; ou , — UTF-8 (com ou sem BOM) ou Latin-1. A primeira linha tem os nomes das colunas.",
        error_messages={"required": "Escolha o arquivo.", "empty": "O arquivo está vazio."},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )


class MappingForm(BootstrapFormMixin, forms.Form):
    """One select per column of our layout, offering the file's headers."""

    def __init__(self, *args, job, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "— não usar —")] + [(h, h) for h in job.headers if h]
        for column in COLUMNS:
            self.fields[column.name] = forms.ChoiceField(
                label=column.label + (" *" if column.required else ""), choices=choices, required=False,
                initial=job.mapping.get(column.name, ""), help_text=column.help,
            )
            self.fields[column.name].widget.attrs["class"] = "form-select form-select-sm"

    def mapping(self) -> dict[str, str]:
        return {name: value for name, value in self.cleaned_data.items() if value}

    def apply_error(self, exc: ApplicationError) -> None:
        for name, errors in exc.fields.items():
            for error in errors:
                self.add_error(name if name in self.fields else None, error.message)
        if not exc.fields:
            self.add_error(None, exc.message)
