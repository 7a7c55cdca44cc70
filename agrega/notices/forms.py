"""Form of Configurações > Integrações SVA > (integração) > Avisos ao cliente: "como usar"
and, per event, whether it is sent, its subject and its message. ``notices.services``
compiles each template and names the field at fault."""

from __future__ import annotations

from django import forms

from agrega.core.web import BootstrapFormMixin, style_widget

from .models import NoticeEvent


def field_name(event: str, part: str) -> str:
    return f"{event}_{part}"


class NoticeTextsForm(BootstrapFormMixin, forms.Form):
    how_to_use = forms.CharField(
        label="Como usar", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Como o cliente começa a usar o serviço; vai nos avisos como {{ como_usar }}.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for event, label in NoticeEvent.choices:
            self.fields[field_name(event, "enabled")] = forms.BooleanField(
                label="Enviar este aviso", required=False, initial=True)
            self.fields[field_name(event, "subject")] = forms.CharField(label="Assunto", required=False,
                                                                         max_length=300)
            self.fields[field_name(event, "body")] = forms.CharField(
                label="Mensagem", required=False, widget=forms.Textarea(attrs={"rows": 9}))
        for field in self.fields.values():
            style_widget(field.widget)

    @staticmethod
    def initial_for(texts: dict) -> dict:
        initial = {"how_to_use": texts["how_to_use"]}
        for event, text in texts["events"].items():
            initial[field_name(event, "enabled")] = text["enabled"]
            initial[field_name(event, "subject")] = text["subject"]
            initial[field_name(event, "body")] = text["body"]
        return initial

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {
            "how_to_use": data.get("how_to_use") or "",
            "events": {
                event: {
                    "enabled": bool(data.get(field_name(event, "enabled"))),
                    "subject": data.get(field_name(event, "subject")) or "",
                    "body": data.get(field_name(event, "body")) or "",
                }
                for event in NoticeEvent.values
            },
        }

    def events(self) -> list[dict]:
        return [
            {"event": event, "label": label, "enabled": self[field_name(event, "enabled")],
             "subject": self[field_name(event, "subject")], "body": self[field_name(event, "body")]}
            for event, label in NoticeEvent.choices
        ]


def service_field_map() -> dict[str, str]:
    mapping = {"how_to_use": "how_to_use"}
    for event in NoticeEvent.values:
        for part in ("subject", "body", "enabled"):
            mapping[f"{event}.{part}"] = field_name(event, part)
    return mapping
