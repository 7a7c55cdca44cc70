"""``agrega payments …``: importa um arquivo de pagamentos (CSV) e mostra os relatórios;
lista os pagamentos retidos (webhook acima do saldo mais a margem) e os aplica ou recusa.

``import`` sai com 2 quando alguma linha foi recusada (o relatório diz qual e por quê);
linhas boas são aplicadas mesmo assim, e uma só vez, ainda que o arquivo seja importado
de novo."""

from __future__ import annotations

from pathlib import Path

from agrega.billing import selectors, services
from agrega.billing.filtersets import PaymentFilterSet
from agrega.billing.imports import MAX_BYTES, STATUS_LABELS, payments_import_csv
from agrega.billing.models import PaymentImport, PaymentStatus
from agrega.core.errors import ApplicationError, NotFound
from agrega.core.management.base import (
    EXIT_ERROR,
    AgregaCommand,
    fmt_datetime,
    fmt_money,
    key_values,
    positive_int,
    table,
)
from agrega.core.uploads import read_file

from .invoice import fmt_date, payment_data


def import_data(record: PaymentImport, *, full: bool = True) -> dict:
    data = {
        "id": record.pk, "file_name": record.file_name, "sha256": record.sha256, "provider": record.provider,
        "lines_total": record.lines_total, "lines_applied": record.lines_applied,
        "lines_duplicate": record.lines_duplicate, "lines_rejected": record.lines_rejected,
        "actor": record.actor_label, "created_at": record.created_at,
    }
    if full:
        data["report"] = record.report
    return data


def import_lines(record: PaymentImport) -> list[str]:
    lines = [
        f"Importação {record.pk} — {record.file_name} (origem {record.provider})",
        *key_values([
            ("Em", fmt_datetime(record.created_at)), ("Por", record.actor_label),
            ("Linhas", record.lines_total), ("Aplicadas", record.lines_applied),
            ("Já aplicadas", record.lines_duplicate), ("Recusadas", record.lines_rejected),
        ]),
        "Relatório por linha:",
    ]
    rows = [(e["line"], e["external_id"], e["invoice_id"] or "", e["amount"], STATUS_LABELS[e["status"]],
             e["code"], e["message"]) for e in record.report]
    lines += ["  " + r for r in table(("Linha", "Id pagamento", "Título", "Valor", "Resultado", "Código", "Mensagem"),
                                      rows)]
    return lines


class Command(AgregaCommand):
    help = "Pagamentos: importa arquivo CSV (id_pagamento;titulo;valor;data_pagamento) e mostra os relatórios."

    def add_subcommands(self, sub):
        imp = self.subcommand(
            sub, "import", self.cmd_import, help="Importa um arquivo de pagamentos (CSV).",
            epilog="Colunas: id_pagamento;titulo;valor;data_pagamento (separador ; ou ,; UTF-8 ou latin-1).\n"
                   "Sai com 2 se alguma linha foi recusada. Veja docs/payments.md.",
        )
        imp.add_argument("file", metavar="ARQUIVO", help="caminho do arquivo CSV")
        imp.add_argument("--provider", required=True, metavar="ORIGEM", help="origem dos pagamentos (ex.: banco)")
        self.add_actor(imp)

        listing = self.subcommand(sub, "imports", self.cmd_imports, help="Lista as importações de pagamentos.")
        listing.add_argument("--limit", type=positive_int, default=50, metavar="N", help="máximo (padrão 50)")

        show = self.subcommand(sub, "show", self.cmd_show, help="Mostra uma importação e o relatório por linha.")
        show.add_argument("id", type=int, help="ID da importação")

        payments = self.subcommand(sub, "list", self.cmd_list, help="Lista os pagamentos (os mais antigos primeiro).")
        PaymentFilterSet.add_arguments(payments)  # the same filter as the API's
        payments.add_argument("--limit", type=positive_int, default=50, metavar="N", help="máximo (padrão 50)")

        held = self.subcommand(sub, "held", self.cmd_held,
                               help="Lista os pagamentos retidos (acima do saldo mais a margem).")
        held.add_argument("--limit", type=positive_int, default=100, metavar="N", help="máximo (padrão 100)")

        apply = self.subcommand(sub, "apply", self.cmd_apply,
                                help="Aplica um pagamento retido (quita o título; o excesso vira crédito).")
        apply.add_argument("id", type=int, help="ID do pagamento")
        apply.add_argument("--note", default="", metavar="TEXTO", help="observação")
        self.add_actor(apply)

        refuse = self.subcommand(sub, "refuse", self.cmd_refuse,
                                 help="Recusa um pagamento retido (fica registrado e nunca é contado).")
        refuse.add_argument("id", type=int, help="ID do pagamento")
        refuse.add_argument("--note", required=True, metavar="TEXTO", help="motivo da recusa")
        self.add_actor(refuse)

    def cmd_import(self, *, file, provider, as_user=None, **options):
        path = Path(file)
        try:
            content = read_file(path, MAX_BYTES)  # refused at the limit, never read whole first
        except OSError as exc:
            raise ApplicationError("file_unreadable", f"Não foi possível ler {file}: {exc.strerror}.") from None
        record = payments_import_csv(content=content, file_name=path.name, provider=provider,
                                     actor=self.actor(as_user))
        self.emit(import_data(record), lambda: import_lines(record))
        if record.lines_rejected:
            self.stderr.write(f"erro [lines_rejected]: {record.lines_rejected} linha(s) recusada(s); "
                              "veja o relatório acima.")
            raise SystemExit(EXIT_ERROR)

    def cmd_imports(self, *, limit=50, **options):
        records = list(PaymentImport.objects.order_by("-id")[:limit])

        def lines():
            if not records:
                return ["Nenhuma importação."]
            rows = [(r.pk, fmt_datetime(r.created_at), r.file_name, r.provider, r.lines_total, r.lines_applied,
                     r.lines_duplicate, r.lines_rejected, r.actor_label) for r in records]
            return table(("ID", "Em", "Arquivo", "Origem", "Linhas", "Aplicadas", "Já aplicadas", "Recusadas", "Por"),
                         rows)

        self.emit([import_data(r, full=False) for r in records], lines)

    def cmd_show(self, *, id, **options):
        record = selectors.payment_import_get(id)
        if record is None:
            raise NotFound("Importação de pagamentos", "payment_import_not_found")
        self.emit(import_data(record), lambda: import_lines(record))

    def cmd_list(self, *, limit=50, **options):
        payments = list(PaymentFilterSet(PaymentFilterSet.from_options(options)).queryset()[:limit])

        def lines():
            if not payments:
                return ["Nenhum pagamento encontrado."]
            rows = [(p.pk, p.invoice_id, fmt_date(p.paid_on), fmt_money(p.amount), p.get_status_display(), p.provider,
                     p.external_id) for p in payments]
            return [*table(("ID", "Título", "Data", "Valor", "Situação", "Origem", "Id do pagamento"), rows),
                    f"{len(payments)} pagamento(s)."]

        self.emit([payment_data(p) for p in payments], lines)

    def cmd_held(self, *, limit=100, **options):
        payments = list(selectors.payment_list(status=PaymentStatus.HELD)[:limit])

        def lines():
            if not payments:
                return ["Nenhum pagamento retido."]
            rows = [(p.pk, p.invoice_id, fmt_date(p.paid_on), fmt_money(p.amount), p.provider, p.external_id,
                     p.hold_reason) for p in payments]
            return [*table(("ID", "Título", "Data", "Valor", "Origem", "Id do pagamento", "Motivo"), rows),
                    f"{len(payments)} pagamento(s) retido(s): agrega payments apply ID | refuse ID --note …"]

        self.emit([payment_data(p) for p in payments], lines)

    def cmd_apply(self, *, id, note="", as_user=None, **options):
        payment = services.payment_hold_apply(payment_id=id, note=note, actor=self.actor(as_user))
        self.emit(payment_data(payment), lambda: [
            f"Pagamento {payment.pk} aplicado ao título {payment.invoice_id}: {fmt_money(payment.amount)}."])

    def cmd_refuse(self, *, id, note, as_user=None, **options):
        payment = services.payment_hold_refuse(payment_id=id, note=note, actor=self.actor(as_user))
        self.emit(payment_data(payment), lambda: [f"Pagamento {payment.pk} recusado: {payment.decision_note}"])
