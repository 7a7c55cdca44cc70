"""The customer's acceptance of each SVA on a contract: when, by which channel, with
what evidence, recorded by whom. Unrequested SVA charges are a top consumer complaint
in Brazil; an integration may require consent before any user is created."""

from django.conf import settings
from django.db import models


class ConsentChannel(models.TextChoices):
    IN_PERSON = "presencial", "Presencial (loja ou técnico)"
    PHONE = "telefone", "Telefone (gravação)"
    WHATSAPP = "whatsapp", "WhatsApp"
    EMAIL = "email", "E-mail"
    WEB = "site", "Site / área do cliente"
    CONTRACT = "contrato", "Contrato assinado"
    OTHER = "outro", "Outro"


class ConsentRecord(models.Model):
    """Keyed by contract and product (not by the contract's product line), so consent
    can be collected before the product is added — as a bulk campaign needs."""

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="consents")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    consented_at = models.DateTimeField("data do aceite")
    channel = models.CharField("canal", max_length=20, choices=ConsentChannel.choices)
    evidence_ref = models.CharField("referência da evidência", max_length=250)
    revoked_at = models.DateTimeField("revogado em", null=True, blank=True)
    revoke_reason = models.CharField("motivo da revogação", max_length=250, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_by_label = models.CharField(max_length=150, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "consentimento"
        verbose_name_plural = "consentimentos"
        indexes = [models.Index(fields=["contract", "product", "revoked_at"])]

    def __str__(self) -> str:
        return f"Consentimento {self.pk} (contrato {self.contract_id}, produto {self.product_id})"

    @property
    def valid(self) -> bool:
        return self.revoked_at is None
