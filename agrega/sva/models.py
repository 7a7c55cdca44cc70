"""Usuário SVA: the customer's account on a platform, tied to one contract product.

Each row keeps what Agrega wants (derived from contract, product and customer: see
``selectors.desired_for``) and what the platform last confirmed. ``version`` moves on
every change that may alter the desired state; the controller converges rows whose
``synced_version`` is behind (docs/decisions/0002-convergence.md).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .choices import SvaOrigin, SvaState


def new_external_id() -> str:
    return "agr-" + uuid.uuid4().hex


class SvaUser(models.Model):
    integration = models.ForeignKey(
        "integrations.SvaIntegration", on_delete=models.PROTECT, related_name="sva_users"
    )
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="sva_users"
    )
    # Live users are found through the partial unique constraint below; a plain index on
    # this column would only add work to every update (the worker updates rows constantly).
    contract_product = models.ForeignKey(
        "contracts.ContractProduct", on_delete=models.PROTECT, related_name="sva_users", db_index=False
    )
    origin = models.CharField("origem", max_length=10, choices=SvaOrigin.choices)
    use_customer_data = models.BooleanField("usar dados cadastro", default=True)
    # Own registration data, used when use_customer_data is false.
    email = models.CharField("usuário (e-mail)", max_length=254, blank=True)
    phone = models.CharField("telefone", max_length=20, blank=True)
    document = models.CharField("CPF/CNPJ", max_length=14, blank=True)
    # Agrega's stable id on the platform: the same on every retry of the creation.
    external_id = models.CharField(max_length=64, default=new_external_id)  # unique: see Meta
    remote_id = models.CharField(max_length=64, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Registration check problems that hold back creation ([{field, code, message}]).
    registration_problems = models.JSONField(default=list, blank=True)

    # Convergence bookkeeping.
    version = models.PositiveBigIntegerField(default=1)
    synced_version = models.PositiveBigIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    failures = models.PositiveIntegerField("falhas seguidas", default=0)
    last_attempt_at = models.DateTimeField("última tentativa", null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.CharField("último erro", max_length=500, blank=True)

    # What the platform last confirmed.
    confirmed_state = models.CharField(
        "estado na plataforma", max_length=10, choices=SvaState.choices, default=SvaState.ABSENT
    )
    confirmed_package = models.CharField(max_length=64, blank=True)
    confirmed_email = models.CharField(max_length=254, blank=True)
    confirmed_phone = models.CharField(max_length=20, blank=True)
    confirmed_document = models.CharField(max_length=14, blank=True)
    confirmed_name = models.CharField(max_length=200, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # True once a creation was sent: from then on a lookup settles unknown outcomes.
    creation_attempted = models.BooleanField(default=False)

    class Meta:
        verbose_name = "usuário SVA"
        verbose_name_plural = "usuários SVA"
        ordering = ["id"]
        constraints = [
            # A constraint rather than unique=True: no extra LIKE index on PostgreSQL.
            models.UniqueConstraint(fields=["external_id"], name="sva_user_external_id_unique"),
            models.UniqueConstraint(
                fields=["contract_product"],
                condition=Q(deleted_at__isnull=True),
                name="one_sva_user_per_contract_product",
                violation_error_message="Este produto do contrato já tem um usuário SVA.",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                condition=Q(version__gt=F("synced_version")),
                name="sva_user_pending_work",
            ),
        ]

    def __str__(self) -> str:
        return f"Usuário SVA {self.pk} ({self.external_id})"


class SvaCall(models.Model):
    """One platform call in an SVA user's timeline (secrets already redacted)."""

    sva_user = models.ForeignKey(SvaUser, on_delete=models.CASCADE, related_name="calls")
    created_at = models.DateTimeField()
    operation = models.CharField(max_length=30)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(default=0)
    request = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "chamada à plataforma"
        verbose_name_plural = "linha do tempo"
        indexes = [models.Index(fields=["sva_user", "-id"], name="sva_call_timeline")]
