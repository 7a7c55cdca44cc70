"""PIX: the ISP's accounts at a PSP (API Pix of the Banco Central), the cobrança com
vencimento (cobv) of each título, refunds (devolução) and Pix Automático recurrences.

The payment itself is a billing ``Payment`` (provider ``pix``, external id the
``endToEndId``): its unique constraint is what makes a Pix count exactly once."""

from django.db import models

from agrega.core import crypto


class PixAccount(models.Model):
    """One receiving account at a PSP: where its API is, the OAuth2 client, the mTLS
    certificate (all secrets encrypted, write-only) and the chave Pix the cobranças use."""

    name = models.CharField("nome", max_length=100)
    base_url = models.URLField("URL da API Pix", max_length=300)
    token_url = models.URLField("URL do token OAuth2", max_length=300, blank=True,
                                help_text="Vazio: <URL da API>/oauth/token.")
    client_id = models.CharField("client id", max_length=200)
    # {"client_secret", "cert_pem", "key_pem"}: Fernet (core/crypto.py); never shown again
    secrets_encrypted = models.TextField(blank=True, editable=False)
    cert_subject = models.CharField("certificado", max_length=300, blank=True, editable=False)
    cert_not_after = models.DateTimeField("certificado válido até", null=True, blank=True, editable=False)
    # the CA that signs the PSP's server certificate when it is not a public one (common
    # in homologation); public, so kept in clear; trusted besides the system's CAs
    psp_ca_pem = models.TextField("CA do PSP (PEM)", blank=True)
    chave = models.CharField("chave Pix", max_length=77)
    adapter = models.CharField("adaptador do PSP", max_length=30, default="padrao")
    validade_apos_vencimento = models.PositiveIntegerField(
        "validade após o vencimento (dias)", default=30,
        help_text="Dias em que a cobrança ainda pode ser paga depois do vencimento (com multa e juros).")
    # the receiver's bank account, which a cobr (Pix Automático) names
    recebedor_agencia = models.CharField("agência (Pix Automático)", max_length=10, blank=True)
    recebedor_conta = models.CharField("conta (Pix Automático)", max_length=20, blank=True)
    recebedor_tipo_conta = models.CharField("tipo de conta", max_length=10, default="CORRENTE")
    # the secret part of the webhook URL the PSP calls: <public url>/pix/webhook/<secret>/pix
    webhook_secret = models.CharField(max_length=64, editable=False)
    webhook_url = models.URLField("URL do webhook registrada", max_length=300, blank=True, editable=False)
    webhook_registered_at = models.DateTimeField(null=True, blank=True, editable=False)
    scopes_granted = models.CharField("escopos concedidos", max_length=1000, blank=True, editable=False)
    last_check_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(null=True, editable=False)
    last_check_message = models.CharField(max_length=500, blank=True, editable=False)
    # the stable code of the last check's outcome: "ok", "pix_scopes_missing", the PixError's
    last_check_code = models.CharField(max_length=40, blank=True, editable=False)
    # what the last check found short of an error (e.g. no Pix Automático scopes)
    last_check_warning = models.CharField(max_length=500, blank=True, editable=False)
    # why webhookrec/webhookcobr (Pix Automático) could not be registered, if so
    webhook_automatico_error = models.CharField(max_length=500, blank=True, editable=False)
    # the last instant the reconciliation covered (GET /pix?inicio&fim)
    reconciled_until = models.DateTimeField(null=True, blank=True, editable=False)
    active = models.BooleanField("ativa", default=True)
    timeout_seconds = models.FloatField("tempo limite (s)", default=10.0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "conta PIX"
        verbose_name_plural = "contas PIX"

    def __str__(self) -> str:
        return self.name

    @property
    def secrets(self) -> dict:
        return crypto.decrypt_json(self.secrets_encrypted)

    def set_secrets(self, secrets: dict) -> None:
        self.secrets_encrypted = crypto.encrypt_json(secrets)


class ChargeStatus(models.TextChoices):
    PENDING = "pending", "A enviar"
    ACTIVE = "active", "Ativa no PSP"
    PAID = "paid", "Paga"
    REMOVED = "removed", "Removida"
    ERROR = "error", "Erro (nova tentativa)"


LIVE_CHARGE = ("pending", "active", "error")  # a cobrança still to be paid (or to be sent)


class PixCharge(models.Model):
    """A cobv of one título. ``txid`` is derived from the título and ``sequence``
    (services.txid_for): a retry is the same ``PUT /cobv/{txid}``, never a second
    cobrança. A título's first cobv is sequence 0; when it is concluded (paid in part,
    or its Pix given back) or removed while the título is open with a balance, the next
    one charges the rest. The título's **current** cobv is its highest sequence; the
    earlier ones stay as its history, and at most one is live (pending/active/error)."""

    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="pix_charges",
                                db_index=False)  # uniq_pix_charge_invoice_sequence indexes it
    sequence = models.PositiveSmallIntegerField(default=0)
    account = models.ForeignKey(PixAccount, on_delete=models.PROTECT, related_name="charges")
    txid = models.CharField(max_length=35, unique=True)
    status = models.CharField(max_length=10, choices=ChargeStatus.choices, default=ChargeStatus.PENDING)
    revisao = models.PositiveIntegerField(default=0)
    amount_sent = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    due_sent = models.DateField(null=True, blank=True)
    # the régua's part last sent (multa/juros/desconto, validade): a change is a PATCH
    terms_sent = models.JSONField(null=True, blank=True)
    pix_copia_e_cola = models.TextField(blank=True)
    location = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "cobrança PIX"
        verbose_name_plural = "cobranças PIX"
        indexes = [models.Index(fields=["status"], name="pix_charge_status")]
        constraints = [
            # also the index that finds a título's cobranças (invoice first)
            models.UniqueConstraint(fields=["invoice", "sequence"], name="uniq_pix_charge_invoice_sequence"),
            # never two payable cobranças of one título: a twin task's INSERT of the next
            # one is ignored (ON CONFLICT DO NOTHING), and both send the same PUT
            models.UniqueConstraint(fields=["invoice"], condition=models.Q(status__in=LIVE_CHARGE),
                                    name="uniq_pix_charge_live"),
        ]


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", "Solicitada"
    DONE = "done", "Devolvida"
    FAILED = "failed", "Não realizada"


class PixRefund(models.Model):
    """A devolução of (part of) a received Pix: ``PUT /pix/{e2eid}/devolucao/{id}`` with
    ``refund_id`` derived from this row, so a retry is the same request."""

    payment = models.ForeignKey("billing.Payment", on_delete=models.PROTECT, related_name="pix_refunds")
    account = models.ForeignKey(PixAccount, on_delete=models.PROTECT, related_name="+")
    refund_id = models.CharField(max_length=35, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    status = models.CharField(max_length=10, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    rtr_id = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=140, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "devolução PIX"
        verbose_name_plural = "devoluções PIX"


class RecurrenceStatus(models.TextChoices):
    CREATING = "CRIANDO", "Enviando"
    # POST /rec sent, no answer (lost, or a 5xx): the reconciliation finds it on the PSP
    # (GET /rec) or, when the PSP never registered it, ends it as NAO_CRIADA
    UNKNOWN = "INCERTA", "Sem resposta do PSP (verificando)"
    NOT_CREATED = "NAO_CRIADA", "Não registrada no PSP"
    CREATED = "CRIADA", "Criada (aguarda o pagador)"
    APPROVED = "APROVADA", "Aprovada"
    REJECTED = "REJEITADA", "Rejeitada"
    EXPIRED = "EXPIRADA", "Expirada"
    CANCELLED = "CANCELADA", "Cancelada"


class SolicRecStatus(models.TextChoices):
    """yaml: SolicRecStatus, and INCERTA: POST /solicrec without an answer (Agrega's own)."""
    UNKNOWN = "INCERTA", "Sem resposta do PSP (verificando)"
    CREATED = "CRIADA", "Criada"
    SENT = "ENVIADA", "Enviada ao banco do pagador"
    RECEIVED = "RECEBIDA", "Recebida pelo banco do pagador"
    REJECTED = "REJEITADA", "Rejeitada"
    ACCEPTED = "ACEITA", "Aceita"
    EXPIRED = "EXPIRADA", "Expirada"
    CANCELLED = "CANCELADA", "Cancelada"


class PixRecurringCharge(models.Model):
    """The cobr of one título under a Pix Automático authorisation (``PUT /cobr/{txid}``);
    its payment arrives through webhookcobr and is applied once per ``endToEndId``."""

    invoice = models.OneToOneField("billing.Invoice", on_delete=models.PROTECT, related_name="pix_cobr")
    recurrence = models.ForeignKey("pix.PixRecurrence", on_delete=models.PROTECT, related_name="charges")
    txid = models.CharField(max_length=35, unique=True)
    status = models.CharField(max_length=30, default="PENDENTE")
    due_sent = models.DateField(null=True, blank=True)
    retries = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "cobrança recorrente PIX"
        verbose_name_plural = "cobranças recorrentes PIX"


class PixRecurrence(models.Model):
    """A Pix Automático authorisation for one contract (``POST /rec``): its state follows
    the PSP through webhookrec; each billing run schedules the título as a ``cobr``."""

    contract = models.ForeignKey("contracts.Contract", on_delete=models.PROTECT, related_name="pix_recurrences")
    account = models.ForeignKey(PixAccount, on_delete=models.PROTECT, related_name="+")
    id_rec = models.CharField(max_length=35, blank=True)
    status = models.CharField(max_length=10, choices=RecurrenceStatus.choices, default=RecurrenceStatus.CREATING)
    fixed_amount = models.DecimalField("valor fixo", max_digits=12, decimal_places=2, null=True, blank=True)
    max_amount = models.DecimalField("valor máximo", max_digits=12, decimal_places=2, null=True, blank=True)
    retry_policy = models.CharField(max_length=30, default="PERMITE_3R_7D")
    last_error = models.CharField(max_length=500, blank=True)
    # the request sent to the payer's bank (POST /solicrec), when the operator sent one
    solicrec_id = models.CharField(max_length=35, blank=True)
    solicrec_status = models.CharField(max_length=10, choices=SolicRecStatus.choices, blank=True)
    solicrec_destinatario = models.JSONField(null=True, blank=True)
    solicrec_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "Pix Automático"
        verbose_name_plural = "Pix Automático"


class PixNotification(models.Model):
    """The inbox of the ``/pix`` callback: one row per ``endToEndId`` a callback named.

    The webhook only records it (one upsert, committed) and answers 200 at once; the
    inbox consumer (``pix.inbox``, in ``agrega worker``) confirms it with the PSP
    (``GET /pix/{e2eid}``) and applies the baixa in batches. ``due_at`` is set while there
    is something to do (NULL: done); a redelivery counts one more ``deliveries`` and makes
    it due again (a later callback may carry a devolução), so it is confirmed again —
    the baixa itself is still once per ``endToEndId`` (billing's unique payment id)."""

    account = models.ForeignKey(PixAccount, on_delete=models.PROTECT, related_name="+")
    e2eid = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    deliveries = models.PositiveIntegerField(default=1)
    due_at = models.DateTimeField(null=True, blank=True)
    # the consumer's lease: a consumer that died mid-batch leaves the row due; after the
    # lease another one takes it
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # applied (the payment: provider "pix", external id = e2eid) | ignored (no título of
    # ours) | refused (e.g. payment_id_reused) | rejected (unknown to the PSP) | unconfirmed
    outcome = models.CharField(max_length=20, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "notificação PIX"
        verbose_name_plural = "notificações PIX"
        constraints = [models.UniqueConstraint(fields=["account", "e2eid"], name="uniq_pix_notification_e2eid")]
        indexes = [models.Index(fields=["due_at"], condition=models.Q(due_at__isnull=False),
                                name="pix_notification_due")]


class PixAutoNotification(models.Model):
    """The inbox of the Pix Automático callbacks (``<url>/rec``: webhookrec, one row per
    ``idRec``; ``<url>/cobr``: webhookcobr, one row per ``txid``) — the idea of
    ``PixNotification``: the webhook only records the row (committed before its 200) and
    the worker (``pix.automatico``) reads the recurrence or cobr back from the PSP and
    applies it. A PSP that does not answer leaves the row due again after a backoff —
    never dropped; a redelivery makes a done row due again."""

    KINDS = (("rec", "webhookrec"), ("cobr", "webhookcobr"))

    account = models.ForeignKey(PixAccount, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=4, choices=KINDS)
    ref = models.CharField(max_length=35)  # the idRec (29) or the txid (26–35)
    received_at = models.DateTimeField()
    deliveries = models.PositiveIntegerField(default=1)
    due_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # applied (a baixa made) | done (state read and kept) | ignored (not ours) | rejected (unknown to the PSP)
    outcome = models.CharField(max_length=20, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "notificação Pix Automático"
        verbose_name_plural = "notificações Pix Automático"
        constraints = [models.UniqueConstraint(fields=["account", "kind", "ref"], name="uniq_pix_auto_notification")]
        indexes = [models.Index(fields=["due_at"], condition=models.Q(due_at__isnull=False),
                                name="pix_auto_notification_due")]
