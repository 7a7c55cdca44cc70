"""Integração SVA: one ISP account on one SVA platform (any registered connector: connectors/registry.py)."""

from django.db import models

from agrega.core import crypto


class SvaIntegration(models.Model):
    """URL, prefix and encrypted credentials of a platform account, plus the rule that
    says whether SVA users are created automatically, and the circuit breaker that the
    worker opens when the platform is down (shown in the interface)."""

    name = models.CharField("nome", max_length=100)
    platform = models.CharField("plataforma", max_length=30)
    base_url = models.URLField("URL", max_length=300)
    prefix = models.CharField("seu prefixo", max_length=64)
    credentials_encrypted = models.TextField(blank=True, editable=False)
    auto_create_users = models.BooleanField("permite criar usuários automaticamente", default=False)
    requires_consent = models.BooleanField(
        "exige consentimento do cliente", default=False,
        help_text="Nenhum usuário SVA é criado sem o aceite do cliente registrado no produto do contrato.",
    )
    reconcile_remove_unknown = models.BooleanField(
        "reconciliação remove usuários desconhecidos", default=False,
        help_text="Na reconciliação, usuários no seu prefixo que o Agrega não conhece (ou já excluiu) "
        "são removidos da plataforma; desmarcado, são apenas relatados.",
    )
    active = models.BooleanField("ativa", default=True)
    timeout_seconds = models.FloatField("tempo limite (s)", default=10.0)
    rate_limit_rps = models.FloatField(
        "limite de requisições por segundo", default=0.0,
        help_text="O limite que a plataforma impõe a esta conta; o Agrega espaça as chamadas para "
        "não ultrapassá-lo (0: sem limite).",
    )
    # Circuit breaker, shared by every worker through the database.
    circuit_open_until = models.DateTimeField(null=True, blank=True, editable=False)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    last_error_code = models.CharField(max_length=64, blank=True, editable=False)
    last_error_message = models.CharField(max_length=500, blank=True, editable=False)
    last_error_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "integração SVA"
        verbose_name_plural = "integrações SVA"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "base_url", "prefix"], name="uniq_integration_account"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.platform.upper()})"

    @property
    def credentials(self) -> dict[str, str]:
        return crypto.decrypt_json(self.credentials_encrypted)

    def set_credentials(self, credentials: dict[str, str]) -> None:
        self.credentials_encrypted = crypto.encrypt_json(credentials)
