"""Campanha SVA: add one SVA product to every contract chosen by filters, at a rate the
platform can take, with pause, resume, cancel and a report of every contract."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

DEFAULT_RATE_PER_SECOND = Decimal("5")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Rascunho"
    RUNNING = "running", "Em execução"
    PAUSED = "paused", "Pausada"
    CANCELLED = "cancelled", "Cancelada"
    DONE = "done", "Concluída"


class Campaign(models.Model):
    """``filters`` keeps what chose the contracts (sales_plan_id, city, status,
    access_status, has_product_id, lacks_product_id); the contracts themselves are
    fixed as items when the campaign starts."""

    name = models.CharField("nome", max_length=120)
    product = models.ForeignKey("catalog.Product", verbose_name="produto SVA", on_delete=models.PROTECT,
                                related_name="+")
    filters = models.JSONField("filtros", default=dict, blank=True)
    rate_per_second = models.DecimalField("contratos por segundo", max_digits=6, decimal_places=2,
                                          default=DEFAULT_RATE_PER_SECOND)
    status = models.CharField(max_length=10, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    total = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField("incluídos", default=0)
    skipped = models.PositiveIntegerField("ignorados", default=0)
    failed = models.PositiveIntegerField("falhas", default=0)
    warnings = models.PositiveIntegerField("com aviso", default=0)
    runner = models.CharField(max_length=120, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "campanha SVA"
        verbose_name_plural = "campanhas SVA"
        constraints = [
            models.CheckConstraint(condition=Q(rate_per_second__gt=0), name="campaign_rate_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def processed(self) -> int:
        return self.added + self.skipped + self.failed

    @property
    def percent(self) -> int:
        return int(100 * self.processed / self.total) if self.total else (100 if self.status == "done" else 0)


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pendente"
    ADDED = "added", "Incluído"
    SKIPPED = "skipped", "Ignorado"
    FAILED = "failed", "Falhou"


class CampaignItem(models.Model):
    """One contract of the campaign and what happened to it. ``reason`` is a stable code
    (already_has_product, contract_cancelled, no_consent, registration_incomplete, …);
    ``message`` says it in Portuguese."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    reason = models.CharField("motivo", max_length=40, blank=True)
    message = models.CharField("mensagem", max_length=500, blank=True)
    warning = models.BooleanField("aviso", default=False)
    contract_product_id = models.BigIntegerField(null=True, blank=True)
    sva_user_id = models.BigIntegerField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "id"]
        verbose_name = "contrato da campanha"
        verbose_name_plural = "contratos da campanha"
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contract"], name="campaign_item_once"),
        ]
        indexes = [models.Index(fields=["campaign", "status", "id"], name="campaign_item_status")]
