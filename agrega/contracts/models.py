"""Contrato and its products; every change is recorded in ContractEvent (Histórico)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from .choices import AccessStatus, ContractAction, ContractStatus, ProductKind


class Contract(models.Model):
    """What a customer signed. ``status`` and ``access_status`` drive the SVA users;
    ``version`` is bumped by every change so the SVA controller can tell what moved."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="contracts"
    )
    status = models.CharField(
        "status", max_length=1, choices=ContractStatus.choices, default=ContractStatus.PRE_CONTRACT
    )
    access_status = models.CharField(
        "status de acesso",
        max_length=2,
        choices=AccessStatus.choices,
        default=AccessStatus.AWAITING_SIGNATURE,
    )
    billing_day = models.PositiveSmallIntegerField("dia de vencimento", default=10)
    description = models.CharField("descrição", max_length=200, blank=True)
    # Mostly empty: indexed only where set (Meta), so the billing run's and the sweep's
    # writes add no index entries for it.
    sales_plan = models.ForeignKey(
        "plans.SalesPlan", verbose_name="plano de venda", null=True, blank=True,
        on_delete=models.PROTECT, related_name="contracts", db_index=False,
    )
    # Billing state the dunning sweep reads from the row itself, so its UPDATE is one
    # statement and a payment committing meanwhile is seen (docs/decisions/0006).
    # Deliberately in no index: the billing run sets it on nearly every contract each
    # month, and with no indexed column changed that write is a HOT update (no index
    # entries; the table keeps room for it, see the fillfactor in migration 0005). The
    # sweep finds overdue contracts through the open títulos (billing's invoice_open_by_due).
    oldest_open_due = models.DateField("vencimento mais antigo em aberto", null=True, blank=True)
    dunning_policy = models.ForeignKey(
        "dunning.DunningPolicy", verbose_name="régua de cobrança", null=True, blank=True,
        on_delete=models.PROTECT, related_name="contracts", db_index=False,
    )
    dunning_level = models.PositiveSmallIntegerField("etapa da régua aplicada", default=0)
    trust_release_until = models.DateTimeField("desbloqueio de confiança até", null=True, blank=True)
    version = models.PositiveBigIntegerField(default=1, editable=False)
    activated_at = models.DateTimeField("ativado em", null=True, blank=True)
    ended_at = models.DateTimeField("encerrado em", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "contrato"
        verbose_name_plural = "contratos"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "access_status"]),
            models.Index(fields=["trust_release_until"], condition=Q(trust_release_until__isnull=False), name="contract_trust_until"),
            # release_settled's daily look for contracts the régua or a trust release touched
            models.Index(fields=["id"], condition=Q(dunning_level__gt=0) | Q(trust_release_until__isnull=False),
                         name="contract_in_dunning"),
            models.Index(fields=["sales_plan"], condition=Q(sales_plan__isnull=False), name="contract_sales_plan"),
            models.Index(fields=["dunning_policy"], condition=Q(dunning_policy__isnull=False),
                         name="contract_dunning_policy"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(billing_day__gte=1, billing_day__lte=31), name="billing_day_1_31"
            )
        ]

    def __str__(self) -> str:
        return f"Contrato {self.pk}"

    @property
    def grants_access(self) -> bool:
        """True when the contract entitles its SVA users to be active (rules table)."""
        return self.status == ContractStatus.ACTIVE and self.access_status == AccessStatus.ACTIVE


class ContractProduct(models.Model):
    """A product on a contract. Removal is a timestamp, so history and billing keep it."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="products")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("tipo", max_length=5, choices=ProductKind.choices)
    price = models.DecimalField("valor", max_digits=12, decimal_places=2, null=True, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    # The platform account this item holds, for platforms that allow one account per
    # customer (connector flag ``one_account_per_customer``): the customer and the SVA
    # integration, copied here so that the unique constraint below can say "one live
    # item per customer and integration" (a constraint, not a check-then-insert: two
    # contracts of one customer are locked separately). Cleared when the contract is
    # cancelled (its account is then blocked and removed after the retention period).
    sva_account_customer = models.BigIntegerField(null=True, blank=True, editable=False)
    sva_account_integration = models.BigIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "produto do contrato"
        verbose_name_plural = "produtos do contrato"
        ordering = ["id"]
        indexes = [models.Index(fields=["product", "removed_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["sva_account_customer", "sva_account_integration"],
                condition=Q(removed_at__isnull=True, sva_account_customer__isnull=False),
                name="one_sva_account_per_customer",
                violation_error_message="O cliente já tem uma conta nesta plataforma SVA.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} no {self.contract}"


class ContractEvent(models.Model):
    """Histórico: who did what to the contract, and what the statuses were before/after.

    Written only by the services that hold the contract row (locked or just updated) and
    contracts are never deleted by Agrega (invoices protect them), so ``contract`` has
    no database constraint: the dunning sweep writes hundreds of thousands of events and
    each would be checked at commit (docs/decisions/0006-billing-and-dunning.md). The
    ORM still cascades a deletion."""

    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="events", db_constraint=False)
    action = models.CharField(max_length=30, choices=ContractAction.choices)
    # Never looked up by actor: no index (the jobs' events have none). No database
    # constraint either: the actor is the request's user or none (the jobs'), and users
    # are never deleted by Agrega (deactivated); a constraint queues one check per event
    # even when the actor is NULL, 24,000 of them at the commit of a dunning sweep of
    # 100,000 contracts (docs/decisions/0006). The ORM still sets it NULL on a deletion.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False, db_constraint=False,
    )
    actor_label = models.CharField(max_length=150, blank=True)
    from_status = models.CharField(max_length=1, blank=True)
    to_status = models.CharField(max_length=1, blank=True)
    from_access_status = models.CharField(max_length=2, blank=True)
    to_access_status = models.CharField(max_length=2, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "evento do contrato"
        verbose_name_plural = "histórico do contrato"
