"""Form of Configurações > Integrações > Integrações SVA.

The form only parses input; the rules (URL, prefix, required credentials, one account
per platform/URL/prefix) are the services'. Credentials are write-only: their fields
never carry a value back to the page, and on edit they are replaced only when filled.
"""

from __future__ import annotations

from django import forms

from agrega.core.web import BootstrapFormMixin, style_widget

from .connectors.registry import connector_class, platform_choices
from .filtersets import IntegrationFilterSet



class IntegrationFilterForm(BootstrapFormMixin, IntegrationFilterSet.form_class(labels={"q": "Buscar integrações"})):
    """The Integrações SVA filter bar: the fields of ``IntegrationFilterSet`` (one
    declaration for the page, the API and the CLI)."""


CREDENTIAL_PREFIX = "cred_"
KEEP_CREDENTIALS_HELP = (
    "Deixe em branco para manter as credenciais atuais. Para trocá-las, preencha todos os campos."
)
YES_NO = [("1", "Sim"), ("0", "Não")]


def credential_fields_for(platform: str):
    try:
        return tuple(connector_class(platform).credential_fields)
    except LookupError:
        return ()


class IntegrationForm(BootstrapFormMixin, forms.Form):
    service_required = ("name",)
    name = forms.CharField(label="Nome", max_length=100, required=False)
    platform = forms.ChoiceField(label="Plataforma", choices=())
    base_url = forms.CharField(
        label="URL", max_length=300, required=False,
        help_text="URL fornecida pela plataforma credenciada.",
        widget=forms.TextInput(attrs={"placeholder": "https://", "inputmode": "url"}),
    )
    prefix = forms.CharField(
        label="Seu prefixo", max_length=64, required=False,
        help_text="O mesmo do campo Seu prefixo na plataforma.",
    )
    auto_create_users = forms.TypedChoiceField(
        label="Permite criar usuários automaticamente", choices=YES_NO, coerce=lambda v: v == "1",
        initial="0", widget=forms.RadioSelect,
        help_text="Sim: ao ativar um contrato com produto desta plataforma (ou incluir o produto "
        "em contrato ativo), o usuário SVA é criado com os dados cadastrais do cliente. "
        "Não: o operador cadastra o usuário SVA na aba SVA do contrato.",
    )
    requires_consent = forms.BooleanField(
        label="Exige consentimento do cliente", required=False, initial=False,
        help_text="Marcado: nenhum usuário SVA é criado na plataforma sem o aceite do cliente "
        "registrado no contrato (aba SVA > Consentimentos). Quem já existe não é afetado.",
    )
    reconcile_remove_unknown = forms.BooleanField(
        label="Reconciliação remove usuários desconhecidos", required=False, initial=False,
        help_text="Marcado: a reconciliação remove da plataforma os usuários do seu prefixo que o Agrega "
        "não conhece ou já excluiu. Desmarcado: eles só aparecem no relatório.",
    )
    active = forms.BooleanField(label="Ativa", required=False, initial=True)
    timeout_seconds = forms.FloatField(
        label="Tempo limite (segundos)", initial=10.0, required=False, localize=True,
        help_text="Quanto esperar por cada resposta da plataforma (0,5 a 120).",
    )
    rate_limit_rps = forms.FloatField(
        label="Limite de requisições por segundo", initial=0, required=False, localize=True, min_value=0,
        help_text="O limite que a plataforma impõe à sua conta. O worker espaça as chamadas para não "
        "ultrapassá-lo. 0: sem limite.",
    )

    def __init__(self, *args, platform: str | None = None, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        choices = platform_choices()
        self.fields["platform"].choices = choices
        if platform is None:
            platform = self.data.get("platform") or self.initial.get("platform") or choices[0][0]
        self.platform = platform
        self.credential_names: list[str] = []
        for field in credential_fields_for(platform):
            name = CREDENTIAL_PREFIX + field.name
            widget = (
                forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
                if field.secret
                else forms.TextInput(attrs={"autocomplete": "off"})
            )
            hints = [field.help] if field.help else []
            if not field.required:
                hints.append("Opcional.")
            if editing:
                hints.append(KEEP_CREDENTIALS_HELP)
            self.fields[name] = forms.CharField(
                label=field.label, required=False, strip=True, widget=widget,
                help_text=" ".join(hints),
            )
            self.credential_names.append(name)
        try:
            needs_prefix = connector_class(platform).needs_prefix
        except LookupError:
            needs_prefix = True
        if not needs_prefix:  # the connector's declaration: the URL names the account
            self.fields["prefix"].help_text = "Opcional nesta plataforma: quando informado, vai como nome da conta."
        for name in self.credential_names:
            self.initial.pop(name, None)  # never show a stored credential back
        for name in self.credential_names:
            style_widget(self.fields[name].widget)

    def credential_bound_fields(self):
        return [self[name] for name in self.credential_names]

    def general_bound_fields(self):
        return [self[name] for name in ("name", "platform", "base_url", "prefix")]

    def service_data(self) -> dict:
        """Keyword arguments for ``integration_create`` / ``integration_update``."""
        data = {k: self.cleaned_data.get(k) for k in ("name", "platform", "base_url", "prefix")}
        data = {k: (v or "") for k, v in data.items()}
        data["auto_create_users"] = bool(self.cleaned_data.get("auto_create_users"))
        data["requires_consent"] = bool(self.cleaned_data.get("requires_consent"))
        data["reconcile_remove_unknown"] = bool(self.cleaned_data.get("reconcile_remove_unknown"))
        data["active"] = bool(self.cleaned_data.get("active"))
        timeout = self.cleaned_data.get("timeout_seconds")
        data["timeout_seconds"] = 10.0 if timeout is None else timeout
        rate = self.cleaned_data.get("rate_limit_rps")
        data["rate_limit_rps"] = 0.0 if rate is None else rate
        return data

    def credentials(self) -> dict[str, str] | None:
        """The credentials typed in; None on edit when every credential field was left blank."""
        given = {
            name[len(CREDENTIAL_PREFIX):]: self.cleaned_data.get(name, "") for name in self.credential_names
        }
        if self.editing and not any(given.values()):
            return None
        return given


# Service field names ("credentials.client_id") → form field names ("cred_client_id").
def service_field_map(form: IntegrationForm) -> dict[str, str]:
    mapping = {f"credentials.{n[len(CREDENTIAL_PREFIX):]}": n for n in form.credential_names}
    if form.credential_names:
        mapping["credentials"] = form.credential_names[0]
    return mapping
