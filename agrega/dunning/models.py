"""The régua de cobrança: stages (days after the due date → action), the trust releases
operators grant, and the notices the sweep records."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class DunningAction(models.TextChoices):
    NOTICE = "notice", "Aviso de débito"
    PARTIAL_SUSPENSION = "partial_suspension", "Suspensão parcial (FA)"
    BLOCK_OVERDUE = "block_overdue", "Bloqueio por financeiro em atraso (FA)"
    BLOCK_AUTOMATIC = "block_automatic", "Suspensão total / bloqueio automático (CA)"
    RESCIND = "rescind", "Rescisão (status N)"


class MultaModalidade(models.IntegerChoices):
    """valor.multa.modalidade of the API Pix."""
    NONE = 0, "Sem multa"
    FIXED = 1, "Valor fixo (R$)"
    PERCENT = 2, "Percentual (%)"


class JurosModalidade(models.IntegerChoices):
    """valor.juros.modalidade of the API Pix."""
    NONE = 0, "Sem juros"
    VALUE_CALENDAR = 1, "Valor por dia (dias corridos)"
    PERCENT_DAY_CALENDAR = 2, "Percentual ao dia (dias corridos)"
    PERCENT_MONTH_CALENDAR = 3, "Percentual ao mês (dias corridos)"
    PERCENT_YEAR_CALENDAR = 4, "Percentual ao ano (dias corridos)"
    VALUE_BUSINESS = 5, "Valor por dia (dias úteis)"
    PERCENT_DAY_BUSINESS = 6, "Percentual ao dia (dias úteis)"
    PERCENT_MONTH_BUSINESS = 7, "Percentual ao mês (dias úteis)"
    PERCENT_YEAR_BUSINESS = 8, "Percentual ao ano (dias úteis)"


class DescontoModalidade(models.IntegerChoices):
    """valor.desconto.modalidade of the API Pix (1 and 2 go as descontoDataFixa)."""
    NONE = 0, "Sem desconto"
    FIXED_UNTIL_DATE = 1, "Valor fixo até a data"
    PERCENT_UNTIL_DATE = 2, "Percentual até a data"
    VALUE_PER_DAY_CALENDAR = 3, "Valor por dia de antecipação (dias corridos)"
    VALUE_PER_DAY_BUSINESS = 4, "Valor por dia de antecipação (dias úteis)"
    PERCENT_PER_DAY_CALENDAR = 5, "Percentual por dia de antecipação (dias corridos)"
    PERCENT_PER_DAY_BUSINESS = 6, "Percentual por dia de antecipação (dias úteis)"


class DunningPolicy(models.Model):
    """A régua. Contracts follow the default one unless they name another."""

    name = models.CharField("nome", max_length=100, unique=True)
    preset = models.CharField("modelo", max_length=20, blank=True)
    is_default = models.BooleanField("padrão", default=False)
    trust_release_days = models.PositiveSmallIntegerField("dias do desbloqueio de confiança", default=3)
    trust_release_max_uses = models.PositiveSmallIntegerField("usos permitidos no período", default=1)
    trust_release_period_days = models.PositiveSmallIntegerField("período dos usos (dias)", default=30)
    # What the título's cobrança PIX (cobv) carries: the API Pix's valor.multa, valor.juros
    # and valor.desconto (modalidades of bcb-api-pix-2.9.0.yaml, CobVValor; 0 = none) and
    # calendario.validadeAposVencimento (empty: the PIX account's).
    multa_modalidade = models.PositiveSmallIntegerField("multa", choices=MultaModalidade.choices, default=0)
    multa_valor = models.DecimalField("valor da multa", max_digits=12, decimal_places=2, default=0)
    juros_modalidade = models.PositiveSmallIntegerField("juros", choices=JurosModalidade.choices, default=0)
    juros_valor = models.DecimalField("valor dos juros", max_digits=12, decimal_places=2, default=0)
    desconto_modalidade = models.PositiveSmallIntegerField("desconto", choices=DescontoModalidade.choices,
                                                           default=0)
    desconto_valor = models.DecimalField("valor do desconto", max_digits=12, decimal_places=2, default=0)
    desconto_dias = models.PositiveSmallIntegerField(
        "desconto até quantos dias antes do vencimento", default=0,
        help_text="Modalidades de data fixa: o desconto vale até o vencimento menos estes dias.")
    validade_apos_vencimento = models.PositiveIntegerField(
        "validade da cobrança PIX após o vencimento (dias)", null=True, blank=True,
        help_text="Vazio: a da conta PIX.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "régua de cobrança"
        verbose_name_plural = "réguas de cobrança"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="one_default_policy"),
            models.CheckConstraint(condition=Q(trust_release_days__gte=1), name="trust_days_positive"),
            models.CheckConstraint(condition=Q(trust_release_period_days__gte=1), name="trust_period_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class DunningStage(models.Model):
    """``days_after_due`` days after the oldest unpaid due date, apply ``action``.
    ``level`` is the stage's position (1, 2, …) and is what a contract records."""

    policy = models.ForeignKey(DunningPolicy, on_delete=models.CASCADE, related_name="stages")
    level = models.PositiveSmallIntegerField("ordem")
    days_after_due = models.PositiveSmallIntegerField("dias após o vencimento")
    action = models.CharField("ação", max_length=20, choices=DunningAction.choices)

    class Meta:
        ordering = ["policy", "level"]
        verbose_name = "etapa da régua"
        verbose_name_plural = "etapas da régua"
        constraints = [
            models.UniqueConstraint(fields=["policy", "level"], name="uniq_stage_level"),
            models.CheckConstraint(condition=Q(level__gte=1), name="stage_level_positive"),
            models.CheckConstraint(condition=Q(days_after_due__gte=1), name="stage_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.days_after_due} dias: {self.get_action_display()}"


class TrustRelease(models.Model):
    """A desbloqueio de confiança: access back for ``days`` before payment. It ends by
    payment (``ended_reason`` paid) or by expiry (the sweep blocks again)."""

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="trust_releases")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=20, blank=True)
    restore_access = models.CharField(max_length=2)
    restore_level = models.PositiveSmallIntegerField(default=0)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    note = models.CharField(max_length=250, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "desbloqueio de confiança"
        verbose_name_plural = "desbloqueios de confiança"
        indexes = [models.Index(fields=["contract", "starts_at"])]


class DunningNotice(models.Model):
    """A notice of debt the sweep issued (Anatel asks for it before any suspension).

    Written only by the sweep, for contracts its UPDATE just wrote in the same
    transaction: no database constraint on ``contract`` (one check per notice at
    commit; docs/decisions/0006-billing-and-dunning.md). No index but the primary key:
    no page, API or job reads the notices by contract or by ``sent_at`` (the notices app
    e-mails them reading forward by primary key from its cursor), and the
    sweep writes one per contract it moves (each index is one more entry per notice);
    whatever comes to read them brings the index its query needs."""

    contract = models.ForeignKey("contracts.Contract", on_delete=models.CASCADE, related_name="dunning_notices",
                                 db_constraint=False, db_index=False)
    level = models.PositiveSmallIntegerField()
    oldest_due = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.CharField(max_length=250, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "aviso de débito"
        verbose_name_plural = "avisos de débito"
