"""Campanhas SVA: choose contracts by filters, add one SVA product to each through
``contract_add_product`` (so the SVA user is created by the usual automatic flow), at
most ``rate_per_second`` additions per second so the SVA worker's queue and the
platform are never flooded; pause, resume and cancel between contracts; every contract
ends with a status and a reason.

Never without consent: when the product's integration requires the customer's
consent, a contract without a valid consent record is skipped (``no_consent``) and
nothing is added to it, so no SVA user can be created for it."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from agrega.catalog.models import Product
from agrega.consent.selectors import consent_required_for, has_consent
from agrega.contracts.choices import ContractStatus
from agrega.contracts.models import Contract, ContractProduct
from agrega.contracts.services import contract_add_product
from agrega.core.audit import actor_label, record_change
from agrega.core.errors import ApplicationError, Conflict, FieldErrors, InvalidTransition, NotFound
from agrega.core.money import parse_decimal
from agrega.core.text import clean_text_into
from agrega.sva.models import SvaUser

from . import selectors
from .filtersets import CampaignFilterSet
from .models import DEFAULT_RATE_PER_SECOND, Campaign, CampaignItem, CampaignStatus, ItemStatus

log = logging.getLogger("agrega.campaigns")

MAX_RATE = Decimal("100")
LEASE_SECONDS = 60
ITEM_CHUNK = 200
POLL_SECONDS = 0.25  # how often a runner waiting for its next slot looks for pause/cancel

# Reasons (stable codes) and their Portuguese messages.
REASONS = {
    "sva_user_created": "Produto incluído e usuário SVA criado; o worker o cria na plataforma.",
    "registration_incomplete": "Produto incluído, mas o usuário SVA aguarda o cadastro do cliente: {detail}",
    "awaiting_activation": "Produto incluído; o usuário SVA será criado quando o contrato for ativado.",
    "manual_creation": "Produto incluído; a integração não cria usuários automaticamente: crie-o na aba SVA do contrato.",
    "integration_inactive": "Produto incluído, mas a integração SVA está inativa: nenhum usuário foi criado.",
    "sva_user_not_created": "Produto incluído, mas nenhum usuário SVA foi criado.",
    "already_has_product": "O contrato já tem este produto.",
    "contract_cancelled": "Contrato cancelado.",
    "no_consent": "Sem consentimento do cliente para este SVA (a integração exige): nada foi incluído.",
    "campaign_cancelled": "Não processado: a campanha foi cancelada.",
}
# The short Portuguese name of each reason, for the report's counts on the page (the code
# stays in the API, the CLI and the CSV). A failure's reason is an error code: "outro motivo".
REASON_LABELS = {
    "sva_user_created": "usuário SVA criado",
    "registration_incomplete": "cadastro incompleto",
    "awaiting_activation": "aguarda ativação",
    "manual_creation": "criação manual",
    "integration_inactive": "integração inativa",
    "sva_user_not_created": "usuário SVA não criado",
    "already_has_product": "já tinha o produto",
    "contract_cancelled": "contrato cancelado",
    "no_consent": "sem consentimento",
    "campaign_cancelled": "campanha cancelada",
}


def reason_label(code: str) -> str:
    return REASON_LABELS.get(code, "outro motivo") if code else ""


WARNING_REASONS = {"registration_incomplete", "manual_creation", "integration_inactive", "sva_user_not_created"}


def reason_message(code: str, **detail) -> str:
    return REASONS.get(code, code).format(detail=detail.get("detail", ""))


# ---------------------------------------------------------------- create, start, pause…

def clean_filters(filters: dict | None, errors: FieldErrors | None = None) -> dict:
    """Only known filters, with valid values (``CampaignFilterSet``, the one declaration the
    form, the API and the CLI share); raises naming each bad one (or adds them to
    ``errors``, for the caller to raise with its own)."""
    filterset = CampaignFilterSet(filters)
    if errors is not None:
        return filterset.clean_into(errors)
    return filterset.clean()


def _sva_product(product_id, errors: FieldErrors) -> Product | None:
    product = Product.objects.select_related("sva_integration").filter(pk=product_id).first()
    if product is None:
        errors.add("product_id", "product_not_found", "Produto não encontrado.")
    elif not product.is_sva:
        errors.add("product_id", "product_not_sva", "A campanha inclui um produto SVA: este produto não tem integração SVA.")
    elif not product.active:
        errors.add("product_id", "product_inactive", "Produto inativo.")
    return product


def _rate(value, errors: FieldErrors) -> Decimal:
    if value in (None, ""):
        return DEFAULT_RATE_PER_SECOND
    try:
        rate = parse_decimal(value).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        errors.add("rate_per_second", "rate_invalid", "Ritmo inválido.")
        return DEFAULT_RATE_PER_SECOND
    if not Decimal("0.01") <= rate <= MAX_RATE:
        errors.add("rate_per_second", "rate_invalid", f"O ritmo deve estar entre 0,01 e {MAX_RATE} contratos por segundo.")
    return rate


def campaign_preview(*, product_id: int, filters: dict | None) -> dict:
    errors = FieldErrors()
    product = _sva_product(product_id, errors)
    clean = clean_filters(filters, errors)
    errors.raise_if_any()
    return selectors.campaign_preview(product=product, filters=clean)


@transaction.atomic
def campaign_create(*, name: str, product_id: int, filters: dict | None = None, rate_per_second=None,
                    actor=None) -> Campaign:
    errors = FieldErrors()
    name = clean_text_into(errors, "name", Campaign, "name", name, label="Nome")
    if name == "":
        errors.add("name", "name_required", "Informe o nome da campanha.")
    product = _sva_product(product_id, errors)
    rate = _rate(rate_per_second, errors)
    clean = clean_filters(filters, errors)
    errors.raise_if_any()
    campaign = Campaign.objects.create(
        name=name, product=product, filters=clean, rate_per_second=rate,
        created_by=actor if getattr(actor, "is_authenticated", False) else None, created_by_label=actor_label(actor))
    record_change(instance=campaign, action="create", actor=actor, changes={
        "name": [None, campaign.name], "product_id": [None, product.pk], "filters": [None, campaign.filters],
        "rate_per_second": [None, str(rate)]})
    return campaign


def _locked(campaign: Campaign | int) -> Campaign:
    pk = campaign.pk if isinstance(campaign, Campaign) else campaign
    found = Campaign.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound("Campanha", "campaign_not_found")
    return found


def _refuse(campaign: Campaign, action: str) -> InvalidTransition:
    return InvalidTransition("invalid_transition",
                             f"Não é possível {action} uma campanha {campaign.get_status_display().lower()}.",
                             extra={"status": campaign.status})


@transaction.atomic
def campaign_start(*, campaign: Campaign | int, actor=None) -> Campaign:
    """Fix the campaign's contracts (those the filters choose now) and let it run."""
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.DRAFT:
        raise _refuse(campaign, "iniciar")
    errors = FieldErrors()
    _sva_product(campaign.product_id, errors)
    errors.raise_if_any()
    ids = selectors.contracts_for(campaign.filters).values_list("pk", flat=True)
    total = 0
    batch: list[CampaignItem] = []
    for contract_id in ids.iterator(chunk_size=2000):
        batch.append(CampaignItem(campaign=campaign, contract_id=contract_id))
        if len(batch) >= 2000:
            CampaignItem.objects.bulk_create(batch)
            total += len(batch)
            batch = []
    CampaignItem.objects.bulk_create(batch)
    total += len(batch)
    campaign.total = total
    campaign.status = CampaignStatus.RUNNING
    campaign.started_at = timezone.now()
    campaign.runner = ""
    campaign.save(update_fields=["total", "status", "started_at", "runner", "updated_at"])
    record_change(instance=campaign, action="start", actor=actor, changes={"total": [0, total]})
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign | int, actor=None) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.RUNNING:
        raise _refuse(campaign, "pausar")
    campaign.status = CampaignStatus.PAUSED
    campaign.save(update_fields=["status", "updated_at"])
    record_change(instance=campaign, action="pause", actor=actor)
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign | int, actor=None) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.PAUSED:
        raise _refuse(campaign, "retomar")
    campaign.status = CampaignStatus.RUNNING
    campaign.save(update_fields=["status", "updated_at"])
    record_change(instance=campaign, action="resume", actor=actor)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign | int, actor=None) -> Campaign:
    """Stop for good: the contracts not yet processed are reported as not processed."""
    campaign = _locked(campaign)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED):
        raise _refuse(campaign, "cancelar")
    now = timezone.now()
    left = CampaignItem.objects.filter(campaign=campaign, status=ItemStatus.PENDING).update(
        status=ItemStatus.SKIPPED, reason="campaign_cancelled", message=REASONS["campaign_cancelled"],
        processed_at=now)
    campaign.status = CampaignStatus.CANCELLED
    campaign.skipped = F("skipped") + left
    campaign.finished_at = now
    campaign.save(update_fields=["status", "skipped", "finished_at", "updated_at"])
    campaign.refresh_from_db()
    record_change(instance=campaign, action="cancel", actor=actor, changes={"not_processed": [None, left]})
    return campaign


# ---------------------------------------------------------------- running

def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claim(campaign_id: int, runner: str) -> Campaign:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound("Campanha", "campaign_not_found")
    if campaign.status != CampaignStatus.RUNNING:
        raise _refuse(campaign, "executar")
    now = timezone.now()
    free = Q(runner="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - timedelta(seconds=LEASE_SECONDS))
    if not Campaign.objects.filter(free, pk=campaign_id, status=CampaignStatus.RUNNING).update(
            runner=runner, heartbeat_at=now, started_at=Coalesce(F("started_at"), now)):
        raise Conflict("campaign_running_elsewhere",
                       f"A campanha {campaign_id} já está sendo executada por outro processo ({campaign.runner}).")
    return Campaign.objects.select_related("product__sva_integration", "created_by").get(pk=campaign_id)


def _skip_reason(contract: Contract, product: Product) -> str | None:
    if contract.status == ContractStatus.CANCELLED:
        return "contract_cancelled"
    if ContractProduct.objects.filter(contract=contract, product=product, removed_at__isnull=True).exists():
        return "already_has_product"
    if consent_required_for(product) and not has_consent(contract_id=contract.pk, product_id=product.pk):
        return "no_consent"
    return None


def _outcome(item: ContractProduct, contract: Contract, product: Product) -> tuple[str, str]:
    user = SvaUser.objects.filter(contract_product=item, deleted_at__isnull=True).first()
    integration = product.sva_integration
    if user is not None:
        if user.registration_problems:
            detail = "; ".join(p["message"] for p in user.registration_problems)
            return "registration_incomplete", reason_message("registration_incomplete", detail=detail)
        return "sva_user_created", reason_message("sva_user_created")
    if contract.status != ContractStatus.ACTIVE:
        return "awaiting_activation", reason_message("awaiting_activation")
    if not integration.active:
        return "integration_inactive", reason_message("integration_inactive")
    if not integration.auto_create_users:
        return "manual_creation", reason_message("manual_creation")
    return "sva_user_not_created", reason_message("sva_user_not_created")


def _finish_item(campaign_id: int, item: CampaignItem, status: str, reason: str, message: str, runner: str,
                 **extra) -> None:
    now = timezone.now()
    warning = reason in WARNING_REASONS
    CampaignItem.objects.filter(pk=item.pk).update(status=status, reason=reason, message=message[:500],
                                                   warning=warning, processed_at=now, **extra)
    counter = {ItemStatus.ADDED: "added", ItemStatus.SKIPPED: "skipped", ItemStatus.FAILED: "failed"}[status]
    changes = {counter: F(counter) + 1, "heartbeat_at": now}
    if warning:
        changes["warnings"] = F("warnings") + 1
    Campaign.objects.filter(pk=campaign_id).update(**changes)


def process_item(campaign: Campaign, item_id: int, *, actor, runner: str) -> str | None:
    """One contract, in one transaction. Returns the item's new status (None when it
    was no longer pending: cancelled meanwhile)."""
    product = campaign.product
    with transaction.atomic():
        item = CampaignItem.objects.select_for_update().filter(pk=item_id, status=ItemStatus.PENDING).first()
        if item is None:
            return None
        contract = Contract.objects.select_for_update().get(pk=item.contract_id)
        product.refresh_from_db(fields=["active"])
        if not product.active:
            _finish_item(campaign.pk, item, ItemStatus.FAILED, "product_inactive",
                         "O produto da campanha foi inativado: nada foi incluído.", runner)
            return ItemStatus.FAILED
        reason = _skip_reason(contract, product)
        if reason:
            _finish_item(campaign.pk, item, ItemStatus.SKIPPED, reason, reason_message(reason), runner)
            return ItemStatus.SKIPPED
        try:
            with transaction.atomic():
                added = contract_add_product(contract=contract.pk, product_id=product.pk, actor=actor)
        except ApplicationError as exc:
            _finish_item(campaign.pk, item, ItemStatus.FAILED, exc.code, exc.message, runner)
            return ItemStatus.FAILED
        code, message = _outcome(added, contract, product)
        user_id = SvaUser.objects.filter(contract_product=added, deleted_at__isnull=True).values_list(
            "pk", flat=True).first()
        _finish_item(campaign.pk, item, ItemStatus.ADDED, code, message, runner,
                     contract_product_id=added.pk, sva_user_id=user_id)
        return ItemStatus.ADDED


def _would_skip(campaign: Campaign, contract_id: int) -> bool:
    """A cheap read before waiting for a slot: items that will be skipped make no
    platform call, so they do not wait for the rate."""
    contract = Contract.objects.filter(pk=contract_id).only("pk", "status").first()
    return contract is None or _skip_reason(contract, campaign.product) is not None


def campaign_run(*, campaign_id: int, max_seconds: float | None = None, actor=None, runner: str | None = None,
                 progress: Callable[[Campaign], None] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> Campaign:
    """Process the pending contracts at the campaign's rate until none is left (DONE),
    the campaign is paused or cancelled, or ``max_seconds`` pass."""
    runner = runner or runner_id()
    campaign = _claim(campaign_id, runner)
    actor = actor if actor is not None else campaign.created_by
    interval = 1.0 / float(campaign.rate_per_second)
    deadline = time.monotonic() + max_seconds if max_seconds else None
    next_slot = time.monotonic()

    beat = [time.monotonic()]

    def still_mine() -> bool:
        """Still RUNNING and held by this runner (paused, cancelled or taken over
        otherwise); keeps the lease fresh while the runner waits for its slots."""
        if time.monotonic() - beat[0] > LEASE_SECONDS / 6:
            beat[0] = time.monotonic()
            return bool(Campaign.objects.filter(pk=campaign_id, runner=runner, status=CampaignStatus.RUNNING)
                        .update(heartbeat_at=timezone.now()))
        row = Campaign.objects.filter(pk=campaign_id).values("status", "runner").first()
        return row == {"status": CampaignStatus.RUNNING, "runner": runner}

    try:
        while True:
            pending = list(CampaignItem.objects.filter(campaign_id=campaign_id, status=ItemStatus.PENDING)
                           .order_by("pk").values_list("pk", "contract_id")[:ITEM_CHUNK])
            if not pending:
                Campaign.objects.filter(pk=campaign_id, runner=runner, status=CampaignStatus.RUNNING).update(
                    status=CampaignStatus.DONE, runner="", finished_at=timezone.now())
                break
            for item_id, contract_id in pending:
                if not still_mine():
                    return Campaign.objects.get(pk=campaign_id)
                if deadline and time.monotonic() > deadline:
                    Campaign.objects.filter(pk=campaign_id, runner=runner).update(runner="")
                    return Campaign.objects.get(pk=campaign_id)
                if not _would_skip(campaign, contract_id):
                    while (wait := next_slot - time.monotonic()) > 0:
                        sleep(min(wait, POLL_SECONDS))
                        if wait > POLL_SECONDS and not still_mine():
                            return Campaign.objects.get(pk=campaign_id)
                    next_slot = time.monotonic() + interval
                process_item(campaign, item_id, actor=actor, runner=runner)
                if progress:
                    progress(Campaign.objects.get(pk=campaign_id))
    finally:
        Campaign.objects.filter(pk=campaign_id, runner=runner).exclude(status=CampaignStatus.RUNNING).update(runner="")
    return Campaign.objects.get(pk=campaign_id)


def run_due_campaigns(max_seconds: float = 50.0) -> dict:
    """For the periodic job runner: run the campaigns in execution that no live runner
    holds, sharing ``max_seconds`` between them."""
    deadline = time.monotonic() + max_seconds
    stale = timezone.now() - timedelta(seconds=LEASE_SECONDS)
    free = Q(runner="") | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale)
    ran = []
    for campaign_id in Campaign.objects.filter(free, status=CampaignStatus.RUNNING).order_by("pk").values_list(
            "pk", flat=True):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            campaign_run(campaign_id=campaign_id, max_seconds=remaining)
            ran.append(campaign_id)
        except ApplicationError:
            continue
    return {"campaigns": ran}
