"""Writes for consent: record the customer's acceptance of an SVA product on a contract,
and revoke it. Each is one transaction; the author is recorded (``actor``), the
contract's Histórico shows it, and the SVA users of that (contract, product) are
re-checked through ``consent_changed``.

Revoking does not remove an SVA user that already exists on the platform: the account
follows the contract (the seed's rules), and the charge shows in the report of SVA
charges without consent (``selectors.sva_without_consent``) for the ISP to act on. A user
not yet created on the platform waits again for a new consent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agrega.catalog.models import Product
from agrega.contracts.choices import ContractAction
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_history_note
from agrega.core.audit import actor_label, record_change
from agrega.core.errors import Conflict, FieldErrors, NotFound
from agrega.core.text import clean_text_into

from .models import ConsentChannel, ConsentRecord
from .selectors import valid_consents
from .signals import consent_changed

# A clock a few minutes ahead (a phone, another server) is not a consent "in the future".
FUTURE_TOLERANCE = timedelta(minutes=5)


def _actor(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _when(value, errors: FieldErrors) -> datetime | None:
    if value in (None, ""):
        return timezone.now()
    if isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            errors.add("consented_at", "consented_at_invalid",
                       "Data do aceite inválida: use AAAA-MM-DDTHH:MM (ex.: 2025-03-01T14:30).")
            return None
        value = parsed
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now() + FUTURE_TOLERANCE:
        errors.add("consented_at", "consented_at_future", "A data do aceite não pode estar no futuro.")
        return None
    return value


@transaction.atomic
def consent_record(
    *,
    contract_id: int,
    product_id: int,
    channel: str,
    evidence_ref: str,
    consented_at: datetime | str | None = None,
    actor=None,
) -> ConsentRecord:
    """Record that the customer of ``contract_id`` accepted the SVA ``product_id``: when
    (default now), by which channel, with which evidence (a recording id, a signed
    document, a message). The product need not be on the contract yet (a campaign
    collects consent first). One valid consent per (contract, product)."""
    # Locking the contract serialises consents of one contract: never two valid ones.
    contract = Contract.objects.select_for_update().filter(pk=contract_id).first()
    if contract is None:
        raise NotFound("Contrato", "contract_not_found")
    errors = FieldErrors()
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        errors.add("product_id", "product_not_found", "Produto não encontrado.")
    elif not product.is_sva:
        errors.add("product_id", "product_not_sva",
                   "Consentimento é registrado para produtos SVA (com integração SVA na aba SVA do produto).")
    if channel not in ConsentChannel.values:
        errors.add("channel", "channel_invalid",
                   "Canal inválido. Opções: " + ", ".join(f"{v} ({label})" for v, label in ConsentChannel.choices))
    evidence_ref = clean_text_into(errors, "evidence_ref", ConsentRecord, "evidence_ref", evidence_ref,
                                   label="Referência da evidência")
    if evidence_ref == "":
        errors.add("evidence_ref", "evidence_required",
                   "Informe a referência da evidência (ex.: protocolo da ligação, nº do contrato assinado).")
    when = _when(consented_at, errors)
    errors.raise_if_any("Dados do consentimento inválidos.")

    existing = valid_consents().filter(contract=contract, product=product).first()
    if existing is not None:
        raise Conflict(
            "consent_exists",
            f"Já existe consentimento válido deste cliente para {product.name} no contrato {contract.pk} "
            f"(registro {existing.pk}, aceite em {timezone.localtime(existing.consented_at):%d/%m/%Y %H:%M}). "
            "Revogue-o antes de registrar outro.",
            extra={"consent_id": existing.pk},
        )
    record = ConsentRecord.objects.create(
        contract=contract, product=product, consented_at=when, channel=channel, evidence_ref=evidence_ref,
        actor=_actor(actor), actor_label=actor_label(actor),
    )
    record_change(instance=record, action="create", actor=actor, changes={
        "contract_id": [None, contract.pk], "product_id": [None, product.pk],
        "consented_at": [None, when.isoformat()], "channel": [None, channel], "evidence_ref": [None, evidence_ref],
    })
    contract_history_note(contract=contract, action=ContractAction.CONSENT_RECORDED, actor=actor, detail={
        "consent_id": record.pk, "product_id": product.pk, "product": product.name, "channel": channel,
        "channel_label": ConsentChannel(channel).label, "evidence_ref": evidence_ref,
    })
    consent_changed.send(sender=ConsentRecord, contract_id=contract.pk, product_id=product.pk)
    return record


@transaction.atomic
def consent_revoke(*, consent_id: int, reason: str = "", actor=None) -> ConsentRecord:
    """Revoke a consent (the customer withdrew it, or it was recorded by mistake)."""
    record = ConsentRecord.objects.select_for_update().filter(pk=consent_id).first()
    if record is None:
        raise NotFound("Consentimento", "consent_not_found")
    if record.revoked_at is not None:
        raise Conflict(
            "consent_already_revoked",
            f"Este consentimento já foi revogado em {timezone.localtime(record.revoked_at):%d/%m/%Y %H:%M}.",
        )
    errors = FieldErrors()
    reason = clean_text_into(errors, "reason", ConsentRecord, "revoke_reason", reason, label="Motivo")
    errors.raise_if_any()
    record.revoked_at = timezone.now()
    record.revoke_reason = reason
    record.revoked_by = _actor(actor)
    record.revoked_by_label = actor_label(actor)
    record.save(update_fields=["revoked_at", "revoke_reason", "revoked_by", "revoked_by_label"])
    record_change(instance=record, action="revoke", actor=actor,
                  changes={"revoked_at": [None, record.revoked_at.isoformat()], "revoke_reason": [None, reason]})
    contract_history_note(contract=record.contract_id, action=ContractAction.CONSENT_REVOKED, actor=actor, detail={
        "consent_id": record.pk, "product_id": record.product_id, "product": record.product.name, "reason": reason,
    })
    consent_changed.send(sender=ConsentRecord, contract_id=record.contract_id, product_id=record.product_id)
    return record
