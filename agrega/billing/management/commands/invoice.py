"""``agrega invoice …``: títulos — listar, mostrar, registrar pagamento (baixa), cancelar."""

from __future__ import annotations

from datetime import date

from agrega.billing import selectors, services
from agrega.billing.imports import parse_date
from agrega.billing.filtersets import InvoiceFilterSet
from agrega.billing.models import Invoice, Payment
from agrega.core.errors import NotFound
from agrega.core.management.base import (
    AgregaCommand,
    fmt_datetime,
    fmt_money,
    key_values,
    positive_int,
    table,
)


def fmt_date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else "—"


def _m(value) -> str:
    return f"{value:.2f}"


def payment_data(payment: Payment) -> dict:
    return {
        "id": payment.pk, "invoice_id": payment.invoice_id, "amount": _m(payment.amount),
        "paid_on": payment.paid_on, "method": payment.method, "provider": payment.provider,
        "external_id": payment.external_id, "note": payment.note, "actor": payment.actor_label,
        "payment_import_id": payment.payment_import_id, "status": payment.status,
        "status_label": payment.get_status_display(), "hold_reason": payment.hold_reason,
        "decided_at": payment.decided_at, "decided_by": payment.decided_by, "decision_note": payment.decision_note,
        "created_at": payment.created_at,
    }


def invoice_data(invoice: Invoice, *, full: bool = False) -> dict:
    data = {
        "id": invoice.pk, "contract_id": invoice.contract_id,
        "customer": {"id": invoice.customer_id, "name": invoice.customer.name},
        "period": f"{invoice.period:%Y-%m}", "issued_on": invoice.issued_on, "due_date": invoice.due_date,
        "amount": _m(invoice.amount), "credit_applied": _m(invoice.credit_applied),
        "paid_amount": _m(invoice.paid_amount), "balance": _m(invoice.balance), "overpaid": _m(invoice.overpaid),
        "status": invoice.status, "status_label": invoice.get_status_display(),
        "overdue": selectors.is_overdue(invoice), "paid_at": invoice.paid_at,
        "cancelled_at": invoice.cancelled_at, "cancel_reason": invoice.cancel_reason,
    }
    if full:
        data["lines"] = [
            {"id": line.pk, "description": line.description, "fiscal_class": line.fiscal_class,
             "unit_price": _m(line.unit_price), "days": line.days, "days_in_period": line.days_in_period,
             "amount": _m(line.amount)}
            for line in invoice.lines.all()
        ]
        data["payments"] = [payment_data(p) for p in invoice.payments.all()]
        data["pix"] = selectors.invoice_pix_brief(invoice)
    return data


def _status(invoice: Invoice) -> str:
    text = invoice.get_status_display()
    return f"{text} (vencido)" if selectors.is_overdue(invoice) else text


def invoice_lines(invoice: Invoice) -> list[str]:
    lines = [
        f"Título {invoice.pk} — contrato {invoice.contract_id}, {invoice.customer.name}",
        *key_values([
            ("Competência", f"{invoice.period:%m/%Y}"),
            ("Vencimento", fmt_date(invoice.due_date)),
            ("Situação", _status(invoice)),
            ("Valor", fmt_money(invoice.amount)),
            ("Crédito aplicado", fmt_money(invoice.credit_applied) if invoice.credit_applied else ""),
            ("Pago", fmt_money(invoice.paid_amount)),
            ("Saldo", fmt_money(invoice.balance)),
            ("Pago a maior", fmt_money(invoice.overpaid) if invoice.overpaid else ""),
            ("Pago em", fmt_date(invoice.paid_at) if invoice.paid_at else ""),
            ("Cancelado em", fmt_datetime(invoice.cancelled_at) if invoice.cancelled_at else ""),
            ("Motivo", invoice.cancel_reason),
        ]),
        "Itens:",
    ]
    rows = [(line.description, line.fiscal_class, fmt_money(line.unit_price),
             f"{line.days}/{line.days_in_period}", fmt_money(line.amount)) for line in invoice.lines.all()]
    lines += ["  " + row for row in table(("Descrição", "Classe fiscal", "Valor mensal", "Dias", "Valor"), rows)]
    payments = list(invoice.payments.all())
    lines.append("Pagamentos:")
    if not payments:
        lines.append("  nenhum pagamento.")
    else:
        rows = [(p.pk, fmt_date(p.paid_on), fmt_money(p.amount), p.get_method_display(), p.provider,
                 p.external_id, p.get_status_display(), p.actor_label, p.note) for p in payments]
        lines += ["  " + row for row in table(
            ("ID", "Data", "Valor", "Forma", "Origem", "Id do pagamento", "Situação", "Por", "Observação"), rows)]
    pix = selectors.invoice_pix_brief(invoice)
    if pix is not None:
        lines.append("PIX:")
        lines += ["  " + row for row in key_values([
            ("txid", pix["txid"]), ("Situação", pix["status_label"]),
            ("Copia-e-cola", pix["copia_e_cola"] or "(ainda não gerado pelo PSP)"),
        ])]
    return lines


def get_invoice(pk: int) -> Invoice:
    invoice = selectors.invoice_get(pk)
    if invoice is None:
        raise NotFound("Título", "invoice_not_found")
    return invoice


class Command(AgregaCommand):
    help = "Títulos: lista, mostra, registra pagamento (baixa) e cancela."

    def add_subcommands(self, sub):
        listing = self.subcommand(sub, "list", self.cmd_list, help="Lista títulos.")
        InvoiceFilterSet.add_arguments(listing)  # the same filters as the page and the API
        listing.add_argument("--limit", type=positive_int, default=100, metavar="N", help="máximo (padrão 100)")

        show = self.subcommand(sub, "show", self.cmd_show, help="Mostra um título: itens, pagamentos e saldo.")
        show.add_argument("id", type=int, help="número do título")

        pay = self.subcommand(
            sub, "pay", self.cmd_pay, help="Registra um pagamento (baixa manual).",
            epilog="Exemplo: agrega invoice pay 12 --amount 109,90 --date 05/11/2026 --id PIX-123\n"
                   "Com --id, repetir o comando não paga duas vezes.",
        )
        pay.add_argument("id", type=int, help="número do título")
        pay.add_argument("--amount", required=True, metavar="VALOR", help="valor pago (109,90 ou 109.90)")
        pay.add_argument("--date", dest="paid_on", metavar="DD/MM/AAAA",
                         help="data do pagamento (padrão: hoje)")
        pay.add_argument("--id", dest="external_id", default="", metavar="ID_PAGAMENTO",
                         help="id do pagamento (comprovante, PIX): aplica uma vez só")
        pay.add_argument("--note", default="", metavar="TEXTO", help="observação")
        self.add_actor(pay)

        cancel = self.subcommand(sub, "cancel", self.cmd_cancel, help="Cancela um título sem pagamentos.")
        cancel.add_argument("id", type=int, help="número do título")
        cancel.add_argument("--reason", required=True, metavar="TEXTO", help="motivo do cancelamento")
        self.add_actor(cancel)

    def cmd_list(self, *, limit=100, **options):
        invoices = list(InvoiceFilterSet(InvoiceFilterSet.from_options(options)).queryset()[:limit])

        def lines():
            if not invoices:
                return ["Nenhum título encontrado."]
            rows = [(i.pk, i.contract_id, i.customer.name, f"{i.period:%m/%Y}", fmt_date(i.due_date),
                     fmt_money(i.amount), fmt_money(i.balance), _status(i)) for i in invoices]
            headers = ("Título", "Contrato", "Cliente", "Competência", "Vencimento", "Valor", "Saldo", "Situação")
            return [*table(headers, rows), f"{len(invoices)} título(s)."]

        self.emit([invoice_data(i) for i in invoices], lines)

    def cmd_show(self, *, id, **options):
        invoice = get_invoice(id)
        self.emit(invoice_data(invoice, full=True), lambda: invoice_lines(invoice))

    def cmd_pay(self, *, id, amount, paid_on=None, external_id="", note="", as_user=None, **options):
        outcome = services.payment_register(
            invoice_id=id, amount=amount, paid_on=parse_date(paid_on) if paid_on else None,
            external_id=external_id, note=note,
            actor=self.actor(as_user),
        )
        invoice = get_invoice(id)
        title = (f"Pagamento {outcome.payment.pk} registrado: {fmt_money(outcome.payment.amount)}."
                 if outcome.created else
                 f"Este id de pagamento já foi aplicado (pagamento {outcome.payment.pk}); nada mudou.")
        data = {"created": outcome.created, "payment": payment_data(outcome.payment),
                "invoice": invoice_data(invoice, full=True)}
        self.emit(data, lambda: [title, *invoice_lines(invoice)])

    def cmd_cancel(self, *, id, reason, as_user=None, **options):
        services.invoice_cancel(invoice_id=id, reason=reason, actor=self.actor(as_user))
        invoice = get_invoice(id)
        self.emit(invoice_data(invoice, full=True), lambda: [f"Título {id} cancelado.", *invoice_lines(invoice)])
