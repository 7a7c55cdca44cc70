"""Form of Configurações > Financeiro > Contas PIX: carries input; rules are in services."""

from django import forms

from .client import adapter_choices

MAX_CERT_BYTES = 64 * 1024


class PixAccountForm(forms.Form):
    name = forms.CharField(label="Nome", max_length=100)
    base_url = forms.CharField(label="URL da API Pix", max_length=300)
    token_url = forms.CharField(label="URL do token OAuth2 (opcional)", max_length=300, required=False)
    client_id = forms.CharField(label="Client id", max_length=200)
    client_secret = forms.CharField(label="Client secret", max_length=500, required=False,
                                    widget=forms.PasswordInput(render_value=False),
                                    help_text="Guardado cifrado; nunca é exibido. Em branco: mantém o atual.")
    chave = forms.CharField(label="Chave Pix", max_length=77)
    adapter = forms.ChoiceField(label="Adaptador do PSP", choices=adapter_choices)
    validade_apos_vencimento = forms.IntegerField(label="Validade após o vencimento (dias)", min_value=0,
                                                  max_value=3650, initial=30)
    timeout_seconds = forms.FloatField(label="Tempo limite (s)", min_value=0.5, max_value=120, initial=10)
    active = forms.BooleanField(label="Ativa", required=False, initial=True)
    certificate = forms.FileField(label="Certificado do cliente (PKCS#12 .p12/.pfx ou PEM)", required=False)
    private_key = forms.FileField(label="Chave privada (PEM, se o certificado for PEM)", required=False)
    cert_password = forms.CharField(label="Senha do certificado", max_length=200, required=False,
                                    widget=forms.PasswordInput(render_value=False))
    psp_ca_pem = forms.CharField(
        label="CA do PSP (PEM, opcional)", required=False, max_length=64 * 1024,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control font-monospace", "spellcheck": "false"}),
        help_text="Só se o PSP assina o servidor da API com uma CA própria (comum em homologação): cole o(s) "
                  "certificado(s) -----BEGIN CERTIFICATE-----. É público; em branco, valem só as CAs do sistema.")

    def _read(self, name):
        f = self.cleaned_data.get(name)
        if not f:
            return b""
        if f.size > MAX_CERT_BYTES:
            raise forms.ValidationError("Arquivo grande demais (máx. 64 KiB).")
        return f.read()

    def clean(self):
        data = super().clean()
        try:
            data["certificate_bytes"] = self._read("certificate")
            data["key_bytes"] = self._read("private_key")
        except forms.ValidationError as exc:
            self.add_error("certificate", exc)
        return data

    def service_data(self) -> dict:
        d = self.cleaned_data
        cert, key = d.get("certificate_bytes") or b"", d.get("key_bytes") or b""
        pem = cert.lstrip().startswith(b"-----BEGIN")
        return {
            "name": d["name"], "base_url": d["base_url"], "token_url": d.get("token_url") or "",
            "client_id": d["client_id"], "chave": d["chave"], "adapter": d["adapter"],
            "validade_apos_vencimento": d["validade_apos_vencimento"], "timeout_seconds": d["timeout_seconds"],
            "client_secret": d.get("client_secret") or None,
            "pkcs12_data": cert if cert and not pem else None,
            "cert_pem": cert.decode(errors="replace") if pem else "",
            "key_pem": key.decode(errors="replace") if pem else "",
            "cert_password": d.get("cert_password") or "",
            "psp_ca_pem": d.get("psp_ca_pem") or "",
        }


class RefundForm(forms.Form):
    amount = forms.CharField(label="Valor a devolver", max_length=20)
    reason = forms.CharField(label="Motivo", max_length=140, required=False)
