"""Títulos (invoices), their lines, payments (baixas), credits and the tax rates of the
SCM/SVA report. Amounts are Decimal BRL with two places; nothing is ever a float."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from agrega.catalog.models import Product

ZERO = Decimal("0.00")


class InvoiceStatus(models.TextChoices):
    OPEN = "open", "Em aberto"
    PAID = "paid", "Pago"
    CANCELLED = "cancelled", "Cancelado"


class PaymentMethod(models.TextChoices):
    MANUAL = "manual", "Baixa manual"
    WEBHOOK = "webhook", "Webhook de pagamento"
    CSV = "csv", "Arquivo de pagamentos"
    PIX = "pix", "PIX"


class PaymentStatus(models.TextChoices):
    APPLIED = "applied", "Aplicado"
    HELD = "held", "Retido (aguarda operador)"
    REFUSED = "refused", "Recusado pelo operador"


class BillingRun(models.Model):
    """One execution of the monthly billing for a period (the first day of the month)."""

    period = models.DateField("competência")
    # the moment the run began (given by the daily job, so its catch-up can tell which
    # periods a run covered after they ended)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    contracts_seen = models.PositiveIntegerField(default=0)
    invoices_created = models.PositiveIntegerField(default=0)
    lines_created = models.PositiveIntegerField(default=0)
    total_amount = models.DecimalField(max_digits=16, decimal_places=2, default=ZERO)
    actor_label = models.CharField(max_length=150, blank=True)
    # the background task that runs it (agrega/billing/tasks.py), when one was enqueued:
    # pages, API and CLI link to the task's progress
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "faturamento"
        verbose_name_plural = "faturamentos"


class Invoice(models.Model):
    """A título: what a contract owes for one period, due on its billing day.

    ``(contract, period)`` is unique, so a billing run can be repeated (or run on two
    machines at once) without billing anyone twice; a cancelled título stays in place
    so a later run does not bill the period again."""

    # Indexed by ``uniq_invoice_contract_period`` (contract first): no index of its own.
    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="invoices",
                                 db_index=False)
    # The contract's customer, copied by the services (the contract's own foreign key
    # guards it); no database constraint, and one index (Meta), not two. Why each
    # constraint left out is safe: docs/decisions/0006-billing-and-dunning.md.
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="invoices",
                                 db_constraint=False, db_index=False)
    period = models.DateField("competência")
    issued_on = models.DateField("emissão")
    due_date = models.DateField("vencimento")
    amount = models.DecimalField("valor", max_digits=12, decimal_places=2)
    # Credit (from an earlier over-payment) taken off the lines' total: amount = lines − credit.
    credit_applied = models.DecimalField("crédito aplicado", max_digits=12, decimal_places=2, default=ZERO)
    paid_amount = models.DecimalField("valor pago", max_digits=12, decimal_places=2, default=ZERO)
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)
    paid_at = models.DateField("data do pagamento", null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField("motivo do cancelamento", max_length=200, blank=True)
    # The run that created it (a label for the operator; never looked up by run).
    billing_run = models.ForeignKey(BillingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                    db_constraint=False, db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "título"
        verbose_name_plural = "títulos"
        constraints = [
            models.UniqueConstraint(fields=["contract", "period"], name="uniq_invoice_contract_period"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="invoice_amount_not_negative"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="invoice_paid_not_negative"),
        ]
        indexes = [
            # what is overdue, by due date (the dunning sweep finds its contracts here, so
            # no index on Contract.oldest_open_due has to follow every billing run);
            # a contract's own títulos are found by uniq_invoice_contract_period
            models.Index(fields=["due_date", "contract"], condition=Q(status="open"), name="invoice_open_by_due"),
            models.Index(fields=["period", "status"]),
            models.Index(fields=["customer"]),
        ]

    def __str__(self) -> str:
        return f"Título {self.pk}"

    @property
    def balance(self) -> Decimal:
        """What is still owed (never negative; an over-payment is ``overpaid``)."""
        return max(self.amount - self.paid_amount, ZERO)

    @property
    def overpaid(self) -> Decimal:
        return max(self.paid_amount - self.amount, ZERO)


class InvoiceLine(models.Model):
    """One product of the contract on the título; ``fiscal_class`` is copied so the tax
    report keeps its figures when the product is later reclassified.

    ``contract_product`` and ``product`` are historical copies (description, class and
    price are copied too): no database constraint and no index, never looked up from
    the line's side (docs/decisions/0006-billing-and-dunning.md)."""

    # Written only by the billing run, in the transaction that inserted the título and
    # with the id that insert returned; títulos are never deleted (a cancelled one stays):
    # no database constraint, 2.5 checks per título at commit saved (decisions/0006).
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines", db_constraint=False)
    contract_product = models.ForeignKey(
        "contracts.ContractProduct", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        db_constraint=False, db_index=False,
    )
    product = models.ForeignKey("catalog.Product", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                db_constraint=False, db_index=False)
    description = models.CharField(max_length=250)
    fiscal_class = models.CharField(max_length=5, choices=Product.FiscalClass.choices)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    days = models.PositiveSmallIntegerField("dias cobrados")
    days_in_period = models.PositiveSmallIntegerField("dias do mês")
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        verbose_name = "item do título"
        verbose_name_plural = "itens do título"


class Payment(models.Model):
    """A baixa. ``(provider, external_id)`` is unique: the payer's payment id (webhook)
    or the file's payment id (CSV) applies once, however often it arrives; a webhook's
    payment id is unique whatever provider sent it, so a payment cannot be applied again
    under another provider's name.

    A webhook payment above the título's open balance by more than
    ``PAYMENT_HOLD_MARGIN`` is **held** (status ``held``): recorded, but counted nowhere
    until an operator applies it (then it settles like any payment) or refuses it."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    paid_on = models.DateField("data do pagamento")
    method = models.CharField(max_length=10, choices=PaymentMethod.choices)
    external_id = models.CharField("id do pagamento", max_length=120, blank=True)
    provider = models.CharField("origem", max_length=60, blank=True)
    note = models.CharField(max_length=250, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    payment_import = models.ForeignKey(
        "billing.PaymentImport", null=True, blank=True, on_delete=models.SET_NULL, related_name="payments"
    )
    status = models.CharField("situação", max_length=10, choices=PaymentStatus.choices,
                              default=PaymentStatus.APPLIED)
    # Why it was held, and who applied or refused it (and why): the operator's decision.
    hold_reason = models.CharField("motivo da retenção", max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True)
    decision_note = models.CharField(max_length=250, blank=True)
    # What was given back (a Pix devolução): taken off the título's paid amount.
    refunded_amount = models.DecimalField("valor devolvido", max_digits=12, decimal_places=2, default=ZERO)
    # Of ``amount``, what was multa and juros (a Pix of a cobv paid late): received, but
    # not the título's — it neither settles the título nor becomes credit. And what the
    # cobv's desconto/abatimento forgave: not received, but it settles the título.
    late_fees = models.DecimalField("multa e juros", max_digits=12, decimal_places=2, default=ZERO)
    discount = models.DecimalField("desconto", max_digits=12, decimal_places=2, default=ZERO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "pagamento"
        verbose_name_plural = "pagamentos"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "external_id"], condition=~Q(external_id=""), name="uniq_payment_external_id"
            ),
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(method="webhook") & ~Q(external_id=""),
                name="uniq_webhook_payment_id",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["invoice"], condition=Q(status="held"), name="payment_held"),
        ]


class CreditEntry(models.Model):
    """The contract's credit ledger: an over-payment adds, a later título consumes.
    The balance is the sum; it is never negative."""

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="credit_entries")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "crédito"
        verbose_name_plural = "créditos"


class PaymentImport(models.Model):
    """One upload of a payments CSV and its per-line report."""

    file_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    provider = models.CharField(max_length=60)
    lines_total = models.PositiveIntegerField(default=0)
    lines_applied = models.PositiveIntegerField(default=0)
    lines_duplicate = models.PositiveIntegerField(default=0)
    lines_rejected = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=list)
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "importação de pagamentos"
        verbose_name_plural = "importações de pagamentos"


class TaxRate(models.Model):
    """A tax the ISP estimates on the revenue of one fiscal class (e.g. ICMS 25% on
    SCM, ISS 5% on SVA). Several taxes per class add up."""

    fiscal_class = models.CharField("classe fiscal", max_length=5, choices=Product.FiscalClass.choices)
    tax = models.CharField("tributo", max_length=30)
    rate = models.DecimalField("alíquota (%)", max_digits=6, decimal_places=3)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["fiscal_class", "tax"]
        verbose_name = "alíquota"
        verbose_name_plural = "alíquotas"
        constraints = [
            models.UniqueConstraint(fields=["fiscal_class", "tax"], name="uniq_tax_per_class"),
            models.CheckConstraint(condition=Q(rate__gte=0, rate__lte=100), name="tax_rate_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.tax} {self.rate}% ({self.fiscal_class})"
