"""Consent records: recording (who, when, channel, evidence), one valid per (contract,
product), revocation, and the report of SVA charges without consent."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agrega.consent.models import ConsentRecord
from agrega.consent.selectors import consent_exists_q, has_consent, sva_without_consent
from agrega.consent.services import consent_record, consent_revoke
from agrega.contracts.models import Contract, ContractEvent, ContractProduct
from agrega.contracts.services import (
    contract_activate,
    contract_add_product,
    contract_history_note,
    contract_remove_product,
)
from agrega.core.errors import ApplicationError
from agrega.core.models import ChangeRecord

from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("operadora-consent", password="x")


@pytest.fixture
def sva(make_platform_integration, make_product):
    integration = make_platform_integration(auto_create_users=False)
    return make_product(integration, name="EXA Segurança", price="9.90")


def test_record_keeps_who_when_channel_and_evidence(sva, make_contract, operator):
    contract = make_contract()
    when = timezone.now() - timedelta(days=2)
    record = consent_record(contract_id=contract.pk, product_id=sva.pk, channel="telefone",
                            evidence_ref="Protocolo 2025-0001", consented_at=when, actor=operator)
    record.refresh_from_db()
    assert record.consented_at == when
    assert (record.channel, record.evidence_ref) == ("telefone", "Protocolo 2025-0001")
    assert record.actor == operator and record.actor_label == "operadora-consent"
    assert has_consent(contract_id=contract.pk, product_id=sva.pk)
    # before the product is on the contract (a campaign collects consent first)
    assert not contract.products.exists()
    audit = ChangeRecord.objects.get(object_type="consent.consentrecord", object_id=str(record.pk))
    assert audit.actor_label == "operadora-consent" and audit.action == "create"


def test_record_defaults_to_now_and_accepts_iso_text(sva, make_contract):
    contract = make_contract()
    before = timezone.now()
    record = consent_record(contract_id=contract.pk, product_id=sva.pk, channel="site", evidence_ref="ip 10.0.0.1")
    assert before <= record.consented_at <= timezone.now()
    assert record.actor is None and record.actor_label == "sistema"
    other = make_contract()
    record = consent_record(contract_id=other.pk, product_id=sva.pk, channel="email",
                            evidence_ref="msg-1", consented_at="2025-03-01T14:30")
    assert timezone.localtime(record.consented_at).strftime("%d/%m/%Y %H:%M") == "01/03/2025 14:30"


def test_every_wrong_field_is_named_and_nothing_is_written(make_contract, make_product):
    contract = make_contract()
    internet = make_product(name="Internet 300 Mega", fiscal_class="SCM")
    with pytest.raises(ApplicationError) as exc:
        consent_record(contract_id=contract.pk, product_id=internet.pk, channel="pombo", evidence_ref="  ",
                       consented_at=timezone.now() + timedelta(days=1))
    assert exc.value.code == "validation_failed"
    codes = {name: [e.code for e in errors] for name, errors in exc.value.fields.items()}
    assert codes == {"product_id": ["product_not_sva"], "channel": ["channel_invalid"],
                     "evidence_ref": ["evidence_required"], "consented_at": ["consented_at_future"]}
    assert not ConsentRecord.objects.exists()
    with pytest.raises(ApplicationError) as exc:
        consent_record(contract_id=999999, product_id=internet.pk, channel="site", evidence_ref="x")
    assert exc.value.code == "contract_not_found" and exc.value.status_code == 404


def test_one_valid_consent_per_contract_and_product(sva, make_contract):
    contract = make_contract()
    first = consent_record(contract_id=contract.pk, product_id=sva.pk, channel="contrato", evidence_ref="CT-1")
    with pytest.raises(ApplicationError) as exc:
        consent_record(contract_id=contract.pk, product_id=sva.pk, channel="site", evidence_ref="x")
    assert exc.value.code == "consent_exists" and exc.value.status_code == 409
    assert exc.value.extra["consent_id"] == first.pk
    consent_revoke(consent_id=first.pk, reason="cliente desistiu")
    second = consent_record(contract_id=contract.pk, product_id=sva.pk, channel="site", evidence_ref="x")
    assert ConsentRecord.objects.filter(contract=contract, revoked_at__isnull=True).get() == second


def test_revoke_records_who_and_why_once(sva, make_contract, operator):
    contract = make_contract()
    record = consent_record(contract_id=contract.pk, product_id=sva.pk, channel="whatsapp", evidence_ref="wa-9")
    consent_revoke(consent_id=record.pk, reason="pedido do cliente", actor=operator)
    record.refresh_from_db()
    assert record.revoked_at is not None and record.revoke_reason == "pedido do cliente"
    assert record.revoked_by == operator and record.revoked_by_label == "operadora-consent"
    assert not has_consent(contract_id=contract.pk, product_id=sva.pk)
    with pytest.raises(ApplicationError) as exc:
        consent_revoke(consent_id=record.pk)
    assert exc.value.code == "consent_already_revoked" and exc.value.status_code == 409
    with pytest.raises(ApplicationError) as exc:
        consent_revoke(consent_id=999999)
    assert exc.value.code == "consent_not_found"


def test_record_and_revoke_show_in_the_contract_historico(sva, make_contract, operator):
    contract = make_contract()
    contract_activate(contract=contract)
    before = list(ContractEvent.objects.filter(contract=contract).values_list("pk", flat=True))
    record = consent_record(contract_id=contract.pk, product_id=sva.pk, channel="telefone",
                            evidence_ref="Protocolo 77", actor=operator)
    consent_revoke(consent_id=record.pk, reason="pedido do cliente")
    recorded, revoked = ContractEvent.objects.filter(contract=contract).exclude(pk__in=before).order_by("pk")
    assert (recorded.action, recorded.get_action_display()) == ("consent_recorded", "Consentimento registrado")
    assert recorded.actor == operator and recorded.actor_label == "operadora-consent"
    assert recorded.detail == {"consent_id": record.pk, "product_id": sva.pk, "product": "EXA Segurança",
                               "channel": "telefone", "channel_label": "Telefone (gravação)",
                               "evidence_ref": "Protocolo 77"}
    assert (revoked.action, revoked.actor_label) == ("consent_revoked", "sistema")
    assert revoked.detail == {"consent_id": record.pk, "product_id": sva.pk, "product": "EXA Segurança",
                              "reason": "pedido do cliente"}
    for event in (recorded, revoked):  # the contract itself did not change
        assert (event.from_status, event.to_status) == ("A", "A")
        assert (event.from_access_status, event.to_access_status) == ("A", "A")
    with pytest.raises(ApplicationError):  # refused: nothing half-written in the Histórico
        consent_record(contract_id=contract.pk, product_id=sva.pk, channel="pombo", evidence_ref="x")
    assert ContractEvent.objects.filter(contract=contract).count() == len(before) + 2
    with pytest.raises(ApplicationError) as exc:
        contract_history_note(contract=contract, action="activate", detail={})
    assert exc.value.code == "action_unknown"


def test_consent_exists_q_filters_querysets(sva, make_contract):
    with_consent, without = make_contract(), make_contract()
    consent_record(contract_id=with_consent.pk, product_id=sva.pk, channel="site", evidence_ref="x")
    for contract in (with_consent, without):
        contract_add_product(contract=contract, product_id=sva.pk)
    found = ContractProduct.objects.filter(consent_exists_q("contract_id", "product_id"))
    assert list(found.values_list("contract_id", flat=True)) == [with_consent.pk]
    assert list(Contract.objects.filter(consent_exists_q("pk", "products__product_id")).values_list(
        "pk", flat=True)) == [with_consent.pk]


def test_report_lists_sva_charged_without_consent(sva, make_product, make_contract):
    internet = make_product(name="Internet", fiscal_class="SCM", price="99.90")
    charged = make_contract()
    contract_add_product(contract=charged, product_id=internet.pk)
    item = contract_add_product(contract=charged, product_id=sva.pk, price="7.50")
    contract_activate(contract=charged)
    consented = make_contract()
    contract_add_product(contract=consented, product_id=sva.pk)
    consent_record(contract_id=consented.pk, product_id=sva.pk, channel="site", evidence_ref="x")
    contract_activate(contract=consented)
    pre_contract = make_contract()  # not charged yet (status P)
    contract_add_product(contract=pre_contract, product_id=sva.pk)
    removed = make_contract()
    gone = contract_add_product(contract=removed, product_id=sva.pk)
    contract_activate(contract=removed)
    contract_remove_product(contract=removed, contract_product_id=gone.pk)

    rows = list(sva_without_consent())
    assert [r.pk for r in rows] == [item.pk]  # only the SVA product being charged without consent
    row = rows[0]
    charged.refresh_from_db()
    assert row.effective_price == Decimal("7.50")
    assert row.since == max(charged.activated_at, item.added_at)
    assert row.last_revoked_at is None


def test_report_shows_a_revoked_consent_since_the_revocation(sva, make_contract):
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=sva.pk)
    record = consent_record(contract_id=contract.pk, product_id=sva.pk, channel="site", evidence_ref="x")
    contract_activate(contract=contract)
    assert not sva_without_consent().exists()
    consent_revoke(consent_id=record.pk)
    record.refresh_from_db()
    row = sva_without_consent().get()
    assert row.pk == item.pk and row.last_revoked_at == record.revoked_at and row.since == record.revoked_at
    assert row.effective_price == sva.price
