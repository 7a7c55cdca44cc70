"""Avisos ao cliente: the e-mail a customer receives when the SVA access is created,
blocked or released on the platform — per integration, a template per event (or the
plain default), and an outbox of the notices written and their sending.

Notices follow the platform-confirmed state (SvaUser.confirmed_state against
SvaUser.notified_state), never the contract action: the customer is told what is true
on the platform, once, even when several actions happened in between."""

from django.db import models
from django.db.models import Q


class NoticeEvent(models.TextChoices):
    CREATED = "created", "Acesso criado"
    BLOCKED = "blocked", "Acesso bloqueado"
    RELEASED = "released", "Acesso liberado"


# The outbox also carries the régua's debt notices (agrega/dunning's DunningNotice): not
# per integration, a fixed text (rendering.DEBT_DEFAULT), no template to edit.
DEBT_EVENT = "debt"
OUTBOX_EVENTS = [*NoticeEvent.choices, (DEBT_EVENT, "Aviso de débito")]


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Pendente"
    SENT = "sent", "Enviado"
    FAILED = "failed", "Falhou"
    SKIPPED = "skipped", "Não enviado"


class NoticeTemplate(models.Model):
    """An integration's own text for one event; without a row the default is used."""

    integration = models.ForeignKey(
        "integrations.SvaIntegration", on_delete=models.CASCADE, related_name="notice_templates"
    )
    event = models.CharField("evento", max_length=10, choices=NoticeEvent.choices)
    enabled = models.BooleanField("enviar este aviso", default=True)
    subject = models.CharField("assunto", max_length=200)
    body = models.TextField("mensagem")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "modelo de aviso"
        verbose_name_plural = "modelos de aviso"
        ordering = ["integration_id", "event"]
        constraints = [models.UniqueConstraint(fields=["integration", "event"], name="uniq_notice_template")]

    def __str__(self) -> str:
        return f"{self.get_event_display()} ({self.integration_id})"


class NoticeSettings(models.Model):
    """Per integration: "como usar" — how the customer starts using the service."""

    integration = models.OneToOneField(
        "integrations.SvaIntegration", on_delete=models.CASCADE, related_name="notice_settings"
    )
    how_to_use = models.TextField("como usar", blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "configuração de avisos"
        verbose_name_plural = "configurações de avisos"


class CustomerNotice(models.Model):
    """The outbox: one e-mail to one customer about one SVA user's state change, or
    (``event`` debt) about a debt notice of the régua: then ``contract`` and
    ``dunning_notice_id`` name it and ``sva_user`` is empty."""

    sva_user = models.ForeignKey("sva.SvaUser", on_delete=models.CASCADE, related_name="notices",
                                 null=True, blank=True)
    contract = models.ForeignKey("contracts.Contract", on_delete=models.CASCADE, related_name="customer_notices",
                                 null=True, blank=True)
    dunning_notice_id = models.BigIntegerField(null=True, blank=True)
    event = models.CharField("evento", max_length=10, choices=OUTBOX_EVENTS)
    to = models.CharField("para", max_length=254, blank=True)
    subject = models.CharField("assunto", max_length=250)
    body = models.TextField("mensagem")
    status = models.CharField("situação", max_length=10, choices=NoticeStatus.choices,
                              default=NoticeStatus.PENDING)
    attempts = models.PositiveSmallIntegerField("tentativas", default=0)
    last_error = models.CharField("último erro", max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField("enviado em", null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "aviso ao cliente"
        verbose_name_plural = "avisos ao cliente"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], name="notice_due",
                         condition=Q(status__in=["pending", "failed"]) & Q(next_attempt_at__isnull=False)),
            models.Index(fields=["sva_user", "-id"], name="notice_by_user"),
        ]

    def __str__(self) -> str:
        return f"Aviso {self.pk} ({self.get_event_display()}, {self.get_status_display()})"


class DebtNoticeCursor(models.Model):
    """One row: the highest DunningNotice id already turned into outbox e-mails. The
    sweep writes its notices in bulk with no index but the primary key (see its
    docstring), so the unsent ones are found by scanning forward from here."""

    last_id = models.BigIntegerField(default=0)
