"""``agrega consent record|revoke|list|report``: consentimentos do cliente para cada SVA
e o relatório de SVA cobrado sem consentimento."""

from __future__ import annotations

from agrega.consent.api import without_consent_row
from agrega.consent.models import ConsentChannel, ConsentRecord
from agrega.consent.filtersets import ConsentFilterSet, WithoutConsentFilterSet
from agrega.consent.selectors import consent_get
from agrega.consent.services import consent_record, consent_revoke
from agrega.core.br import format_document
from agrega.core.errors import NotFound
from agrega.core.management.base import AgregaCommand, fmt_datetime, fmt_money, key_values, positive_int, table


def consent_data(record: ConsentRecord) -> dict:
    return {
        "id": record.pk,
        "contract_id": record.contract_id,
        "customer": record.contract.customer.name,
        "product_id": record.product_id,
        "product": record.product.name,
        "consented_at": record.consented_at,
        "channel": record.channel,
        "channel_label": record.get_channel_display(),
        "evidence_ref": record.evidence_ref,
        "valid": record.revoked_at is None,
        "recorded_by": record.actor_label,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
        "revoke_reason": record.revoke_reason,
        "revoked_by": record.revoked_by_label,
    }


def consent_lines(record: ConsentRecord) -> list[str]:
    return [
        f"Consentimento {record.pk} — contrato {record.contract_id}, {record.product.name}",
        *key_values([
            ("Cliente", record.contract.customer.name),
            ("Aceite em", fmt_datetime(record.consented_at)),
            ("Canal", record.get_channel_display()),
            ("Evidência", record.evidence_ref),
            ("Registrado por", f"{record.actor_label or 'sistema'} em {fmt_datetime(record.created_at)}"),
            ("Situação", "válido" if record.revoked_at is None else
             f"revogado em {fmt_datetime(record.revoked_at)} por {record.revoked_by_label or 'sistema'}"
             + (f" — {record.revoke_reason}" if record.revoke_reason else "")),
        ]),
    ]


def _get(pk: int) -> ConsentRecord:
    record = consent_get(pk)
    if record is None:
        raise NotFound("Consentimento", "consent_not_found")
    return record


class Command(AgregaCommand):
    help = "Consentimentos: registra, revoga, lista e relata SVA cobrado sem consentimento."

    def add_subcommands(self, sub):
        record = self.subcommand(sub, "record", self.cmd_record,
                                 help="Registra o aceite do cliente para um produto SVA do contrato.")
        record.add_argument("--contract", dest="contract_id", type=int, required=True, metavar="ID",
                            help="ID do contrato")
        record.add_argument("--product", dest="product_id", type=int, required=True, metavar="ID",
                            help="ID do produto SVA")
        record.add_argument("--channel", required=True, metavar="|".join(ConsentChannel.values),
                            help="canal: " + ", ".join(f"{v} ({label})" for v, label in ConsentChannel.choices))
        record.add_argument("--evidence", dest="evidence_ref", required=True, metavar="REF",
                            help="referência da evidência (protocolo, gravação, documento)")
        record.add_argument("--at", dest="consented_at", metavar="AAAA-MM-DDTHH:MM",
                            help="quando o cliente aceitou (padrão: agora)")
        self.add_actor(record)

        revoke = self.subcommand(sub, "revoke", self.cmd_revoke,
                                 help="Revoga um consentimento (o usuário SVA existente não é removido).")
        revoke.add_argument("id", type=int, help="ID do consentimento")
        revoke.add_argument("--reason", default="", metavar="TEXTO", help="motivo")
        self.add_actor(revoke)

        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista consentimentos.")
        ConsentFilterSet.add_arguments(listing)  # the same filters as the API
        listing.add_argument("--limit", type=positive_int, default=100, metavar="N", help="máximo (padrão 100)")

        show = self.subcommand(sub, "show", self.cmd_show, help="Mostra um consentimento.")
        show.add_argument("id", type=int, help="ID do consentimento")

        report = self.subcommand(sub, "report", self.cmd_report,
                                 help="SVA cobrado sem consentimento (contratos ativos).")
        WithoutConsentFilterSet.add_arguments(report)  # the same filters as the page and the API
        report.add_argument("--limit", type=positive_int, default=1000, metavar="N", help="máximo (padrão 1000)")

    def cmd_record(self, *, contract_id, product_id, channel, evidence_ref, consented_at=None, as_user=None,
                   **options):
        record = consent_record(contract_id=contract_id, product_id=product_id, channel=channel,
                                evidence_ref=evidence_ref, consented_at=consented_at, actor=self.actor(as_user))
        record = _get(record.pk)
        self.emit(consent_data(record), lambda: ["Consentimento registrado.", *consent_lines(record)])

    def cmd_revoke(self, *, id, reason="", as_user=None, **options):
        consent_revoke(consent_id=id, reason=reason, actor=self.actor(as_user))
        record = _get(id)
        self.emit(consent_data(record), lambda: ["Consentimento revogado.", *consent_lines(record)])

    def cmd_show(self, *, id, **options):
        record = _get(id)
        self.emit(consent_data(record), lambda: consent_lines(record))

    def cmd_list(self, *, limit=100, **options):
        records = list(ConsentFilterSet(ConsentFilterSet.from_options(options)).queryset()[:limit])

        def lines():
            if not records:
                return ["Nenhum consentimento encontrado."]
            rows = [(r.pk, r.contract_id, r.product.name, fmt_datetime(r.consented_at), r.get_channel_display(),
                     r.evidence_ref, r.actor_label, "válido" if r.revoked_at is None else "revogado")
                    for r in records]
            headers = ("ID", "Contrato", "Produto", "Aceite em", "Canal", "Evidência", "Registrado por", "Situação")
            return [*table(headers, rows), f"{len(records)} consentimento(s)."]

        self.emit([consent_data(r) for r in records], lines)

    def cmd_report(self, *, limit=1000, **options):
        filters = WithoutConsentFilterSet(WithoutConsentFilterSet.from_options(options))
        rows = [without_consent_row(i) for i in filters.queryset()[:limit]]

        def lines():
            if not rows:
                return ["Nenhuma cobrança de SVA sem consentimento."]
            body = [(r["contract_id"], r["customer_name"], format_document(r["customer_document"]),
                     r["product_name"], r["integration_name"], "sim" if r["requires_consent"] else "não",
                     fmt_money(r["price"]), fmt_datetime(r["since"])) for r in rows]
            headers = ("Contrato", "Cliente", "CPF/CNPJ", "Produto", "Integração", "Exige", "Valor", "Desde")
            return [*table(headers, body), f"{len(rows)} produto(s) SVA cobrado(s) sem consentimento."]

        self.emit(rows, lines)
