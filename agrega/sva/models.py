"""Usuário SVA: the customer's account on a platform, tied to one contract product.

Each row keeps what Agrega wants (derived from contract, product and customer: see
``selectors.desired_for``) and what the platform last confirmed. A user waits for the
controller while it has a row in ``SvaPendingWork`` (every change queues one); changes
of the user itself also move its ``version``, and the controller records the version it
converged as ``synced_version`` (docs/decisions/0002-convergence.md, 0007).
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from .choices import SvaOrigin, SvaState


def new_external_id() -> str:
    return "agr-" + uuid.uuid4().hex


class SvaUser(models.Model):
    integration = models.ForeignKey(
        "integrations.SvaIntegration", on_delete=models.PROTECT, related_name="sva_users"
    )
    # indexed with the columns that find a contract's live users (Meta.indexes)
    contract = models.ForeignKey(
        "contracts.Contract", on_delete=models.PROTECT, related_name="sva_users", db_index=False
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
    # when ``version`` last moved (a change of the user itself)
    changed_at = models.DateTimeField(null=True, blank=True, editable=False)
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
    # Customer notices (agrega.notices): the confirmed state the customer was last told
    # about; the notices job writes a notice when confirmed_state moves away from it.
    # db_default too, so rows loaded with COPY (bench/) get it.
    notified_state = models.CharField(
        "estado avisado ao cliente", max_length=10, choices=SvaState.choices,
        default=SvaState.ABSENT, db_default=SvaState.ABSENT,
    )

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
        # No index names version, synced_version, next_attempt_at or the lease: the
        # pending users are found through SvaPendingWork, so the worker's writes change
        # no indexed column (HOT updates on PostgreSQL, with the free space of migration
        # 0005's fillfactor).
        indexes = [
            # A contract's users, live or not; on PostgreSQL it also holds what finding the
            # live ones needs (id, deleted_at), so the queue write of a dunning sweep
            # (sva.pending.mark_contracts) reads no user row where the pages are all-visible
            # (docs/decisions/0007). deleted_at is named by the constraint above already.
            models.Index(fields=["contract"], include=["id", "deleted_at"], name="sva_user_by_contract"),
        ]

    def __str__(self) -> str:
        return f"Usuário SVA {self.pk} ({self.external_id})"


class SvaPendingWork(models.Model):
    """The worker's queue, and the truth of what is pending: one narrow row per user
    whose platform account may differ from what Agrega wants now.

    A change of the contract, customer or product (``services.bump``) only upserts this
    row: it does not write the user's wide row, so a dunning sweep that blocks 100,000
    contracts appends 100,000 small rows instead of rewriting a page of ``sva_svauser``
    per user (docs/decisions/0007-pending-work-queue.md). Changes of the user itself
    (deletion, "sincronizar agora", reconciliation, creation) also move its ``version``.
    ``bumps`` counts the changes since the row was queued: the worker deletes the row
    only if it is unchanged since its claim, so a change made meanwhile is never lost.
    Written only through ``agrega.sva.pending``.
    """

    # No database constraint: written with or right after its user, in one transaction,
    # and deleted with it (on_delete); the check would cost a lookup per row.
    sva_user = models.OneToOneField(
        SvaUser, on_delete=models.CASCADE, primary_key=True, related_name="pending_work", db_constraint=False
    )
    due_at = models.DateTimeField()
    # first queued (the convergence lag metric): kept while the row lives
    queued_at = models.DateTimeField(db_default=Now())
    bumps = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        verbose_name = "trabalho pendente"
        indexes = [models.Index(fields=["due_at", "sva_user"], name="sva_pending_due")]

    def __str__(self) -> str:
        return f"Pendente {self.sva_user_id} (desde {self.queued_at:%d/%m/%Y %H:%M})"


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


# -- Reconciliation (agrega/sva/reconcile/services.py) -------------------------------------------


class ReconciliationStatus(models.TextChoices):
    RUNNING = "running", "Em execução"
    DONE = "done", "Concluída"
    FAILED = "failed", "Falhou"
    INTERRUPTED = "interrupted", "Interrompida"


class ReconciliationKind(models.TextChoices):
    MISSING_ON_PLATFORM = "missing_on_platform", "Ausente na plataforma"
    STATE_DIFFERS = "state_differs", "Situação diferente"
    DATA_DIFFERS = "data_differs", "Dados diferentes"
    UNKNOWN_ON_PLATFORM = "unknown_on_platform", "Desconhecido no Agrega"
    DELETED_HERE_PRESENT_THERE = "deleted_here_present_there", "Excluído no Agrega, presente na plataforma"


class ReconciliationAction(models.TextChoices):
    MARKED_FOR_SYNC = "marked_for_sync", "Marcado para sincronizar"
    ALREADY_PENDING = "already_pending", "Já pendente de sincronização"
    REMOVED = "removed", "Removido da plataforma"
    REPORTED = "reported", "Apenas relatado"
    REMOVE_FAILED = "remove_failed", "Falha ao remover"


class ReconciliationRun(models.Model):
    """One comparison of an integration's users on the platform with Agrega's.

    The row is also the lock: at most one run per integration is ``running`` (partial
    unique constraint) and it holds a lease that the run renews page by page, so a run
    killed mid-way stops blocking the next one once its lease expires."""

    integration = models.ForeignKey(
        "integrations.SvaIntegration", on_delete=models.PROTECT, related_name="reconciliation_runs"
    )
    status = models.CharField(
        "situação", max_length=12, choices=ReconciliationStatus.choices, default=ReconciliationStatus.RUNNING
    )
    runner = models.CharField("executado por", max_length=100)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=150, blank=True)
    remove_unknown = models.BooleanField("remove desconhecidos", default=False)
    page_size = models.PositiveIntegerField(default=500)
    started_at = models.DateTimeField("início", auto_now_add=True)
    finished_at = models.DateTimeField("fim", null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField("contagens", default=dict, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "reconciliação"
        verbose_name_plural = "reconciliações"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["integration"], condition=Q(status="running"), name="one_running_reconciliation",
                violation_error_message="Já há uma reconciliação em execução para esta integração.",
            )
        ]

    def __str__(self) -> str:
        return f"Reconciliação {self.pk} (integração {self.integration_id})"


class ReconciliationItem(models.Model):
    """One difference found by a run, and what the run did about it."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="items")
    external_id = models.CharField(max_length=64)
    sva_user = models.ForeignKey(
        SvaUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="reconciliation_items"
    )
    kind = models.CharField("diferença", max_length=30, choices=ReconciliationKind.choices)
    action = models.CharField("ação", max_length=20, choices=ReconciliationAction.choices)
    message = models.CharField("descrição", max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "diferença da reconciliação"
        verbose_name_plural = "diferenças da reconciliação"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.external_id}"


class ReconciliationSeen(models.Model):
    """External ids a running reconciliation met on the platform, written page by page
    so that "missing on the platform" is found by a query, not by a set in memory.
    Deleted when the run ends."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="+", db_index=False)
    external_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "external_id"], name="reconciliation_seen_unique"),
        ]
