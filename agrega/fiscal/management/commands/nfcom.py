"""``agrega nfcom …``: emitir, enviar, consultar, corrigir e cancelar NFCom (modelo 62),
baixar XML/DANFE-COM, o ZIP mensal do contador e os relatórios fiscais."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from agrega.billing.services import parse_period
from agrega.core.errors import NotFound
from agrega.core.management.base import AgregaCommand, fmt_money, key_values, positive_int, table
from agrega.fiscal import reports, selectors, services, tasks
from agrega.fiscal.filtersets import NFComFilterSet
from agrega.fiscal.models import NFCom


def doc_data(d: NFCom) -> dict:
    return {"id": d.pk, "invoice_id": d.invoice_id, "serie": d.serie, "number": d.number, "key": d.key,
            "status": d.status, "c_stat": d.c_stat, "x_motivo": d.x_motivo, "protocol": d.protocol,
            "total": f"{d.total:.2f}", "issued_at": d.issued_at, "cancel_protocol": d.cancel_protocol,
            "purpose": d.purpose, "substitutes_key": d.substitutes.key if d.substitutes_id else "",
            "substitution_reason": d.substitution_reason}


class Command(AgregaCommand):
    help = "NFCom (modelo 62): emissão, envio à SEFAZ, cancelamento, DANFE-COM, XML e relatórios."

    def add_subcommands(self, sub):
        emit = self.subcommand(sub, "emit", self.cmd_emit, help="Emite a NFCom dos títulos de uma competência.")
        emit.add_argument("--period", required=True, metavar="AAAA-MM")
        emit.add_argument("--no-send", action="store_true", help="só numera, monta, valida e assina")
        emit.add_argument("--shuffle", action="store_true", help="ordem aleatória (vários processos ao mesmo tempo)")
        self.subcommand(sub, "send", self.cmd_send, help="Envia à SEFAZ o que está assinado e resolve o incerto.")
        lst = self.subcommand(sub, "list", self.cmd_list, help="Lista as NFCom.")
        NFComFilterSet.add_arguments(lst)  # the same filters as the page and the API
        lst.add_argument("--limit", type=positive_int, default=50)
        show = self.subcommand(sub, "show", self.cmd_show, help="Mostra uma NFCom (pelo título).")
        show.add_argument("invoice", type=int, help="ID do título")
        correct = self.subcommand(sub, "correct", self.cmd_correct,
                                  help="Remonta uma NFCom rejeitada com os dados corrigidos e reenvia.")
        correct.add_argument("invoice", type=int, help="ID do título")
        cancel = self.subcommand(sub, "cancel", self.cmd_cancel, help="Cancela a NFCom de um título (evento).")
        cancel.add_argument("invoice", type=int, help="ID do título")
        cancel.add_argument("--reason", required=True, metavar="TEXTO", help="justificativa (15 a 255 caracteres)")
        self.add_actor(cancel)
        subst = self.subcommand(sub, "substitute", self.cmd_substitute,
                                help="Emite a NFCom de substituição (finNFCom 3, gSub) da NFCom autorizada de um título.")
        subst.add_argument("invoice", type=int, help="ID do título")
        subst.add_argument("--reason", required=True, metavar="MOTIVO",
                           help="motSub: 01 preço, 02 cadastral, 03 decisão judicial, 04 tributação, "
                                "05 descontinuidade, 06 regime especial")
        subst.add_argument("--no-send", action="store_true", help="só numera, monta, valida e assina")
        self.add_actor(subst)
        for name, fn, what in (("xml", self.cmd_xml, "o XML (nfcomProc)"), ("danfe", self.cmd_danfe, "o DANFE-COM (PDF)")):
            p = self.subcommand(sub, name, fn, help=f"Grava {what} da NFCom de um título.")
            p.add_argument("invoice", type=int, help="ID do título")
            p.add_argument("--out", required=True, metavar="ARQUIVO")
        z = self.subcommand(sub, "zip", self.cmd_zip, help="ZIP mensal com os XML para o contador.")
        z.add_argument("--period", required=True, metavar="AAAA-MM")
        z.add_argument("--out", required=True, metavar="ARQUIVO")
        r = self.subcommand(sub, "report", self.cmd_report, help="Receita SCM/SVA das NFCom autorizadas do mês.")
        r.add_argument("--period", required=True, metavar="AAAA-MM")
        t = self.subcommand(sub, "transition", self.cmd_transition,
                            help="A receita do mês tributada pelas regras de 2026, 2027 e 2033.")
        t.add_argument("--period", required=True, metavar="AAAA-MM")

    def _doc(self, invoice_id: int) -> NFCom:
        doc = selectors.for_invoice(invoice_id)
        if doc is None:
            raise NotFound("NFCom do título", "nfcom_not_found")
        return doc

    def cmd_emit(self, *, period, no_send=False, shuffle=False, **options):
        ids = tasks.invoices_without_nfcom(parse_period(period.strip()))
        if shuffle:
            random.shuffle(ids)
        counts = tasks.emit_invoices(ids, send=not no_send)
        self.emit(counts, [f"NFCom criadas: {counts['created']}",
                           *[f"  erro {code}: {n}" for code, n in counts["errors"].items()],
                           *([f"Envio: {counts['send']}"] if "send" in counts else [])])

    def cmd_send(self, **options):
        counts = services.send_pending()
        self.emit(counts, [f"{k}: {v}" for k, v in counts.items()])

    def cmd_list(self, *, limit=50, **options):
        docs = list(NFComFilterSet(NFComFilterSet.from_options(options)).queryset()[:limit])
        self.emit([doc_data(d) for d in docs], lambda: table(
            ("Título", "Série/Nº", "Chave", "Situação", "Total", "SEFAZ"),
            [(d.invoice_id, f"{d.serie}/{d.number}", d.key, d.get_status_display(), fmt_money(d.total),
              services.describe(d)) for d in docs]) if docs else ["Nenhuma NFCom."])

    def cmd_show(self, *, invoice, **options):
        d = self._doc(invoice)
        self.emit(doc_data(d), key_values([("Título", d.invoice_id), ("Série/Nº", f"{d.serie}/{d.number}"),
                                           ("Chave", d.key), ("Situação", d.get_status_display()),
                                           ("SEFAZ", services.describe(d)), ("Protocolo", d.protocol),
                                           ("Total", fmt_money(d.total))]))

    def cmd_correct(self, *, invoice, **options):
        d = services.nfcom_correct(nfcom_id=self._doc(invoice).pk)
        d = services.nfcom_send(nfcom_id=d.pk)
        self.emit(doc_data(d), [f"NFCom {d.serie}/{d.number}: {d.get_status_display()} {services.describe(d)}"])

    def cmd_cancel(self, *, invoice, reason, as_user=None, **options):
        d = services.nfcom_cancel(nfcom_id=self._doc(invoice).pk, reason=reason, actor=self.actor(as_user))
        self.emit(doc_data(d), [f"NFCom {d.serie}/{d.number} cancelada (protocolo {d.cancel_protocol})."])

    def cmd_substitute(self, *, invoice, reason, no_send=False, as_user=None, **options):
        original = self._doc(invoice)
        d = services.nfcom_substitute(nfcom_id=original.pk, reason=reason, actor=self.actor(as_user))
        if not no_send:
            d = services.nfcom_send(nfcom_id=d.pk)
        self.emit(doc_data(d), [f"NFCom de substituição {d.serie}/{d.number} (substitui {original.serie}/"
                                f"{original.number}): {d.get_status_display()} {services.describe(d)}"])

    def cmd_xml(self, *, invoice, out, **options):
        Path(out).write_bytes(selectors.document_xml(self._doc(invoice)))
        self.emit({"file": out}, [f"XML gravado em {out}."])

    def cmd_danfe(self, *, invoice, out, **options):
        Path(out).write_bytes(selectors.document_pdf(self._doc(invoice)))
        self.emit({"file": out}, [f"DANFE-COM gravado em {out}."])

    def cmd_zip(self, *, period, out, **options):
        data, n = selectors.monthly_zip(parse_period(period))
        Path(out).write_bytes(data)
        self.emit({"file": out, "documents": n}, [f"{n} NFCom no ZIP {out}."])

    def cmd_report(self, *, period, **options):
        rev = reports.revenue(parse_period(period))
        data = {"period": f"{rev['period']:%Y-%m}", "documents": rev["documents"],
                "by_class": {k: f"{v:.2f}" for k, v in rev["by_class"].items()}, "icms": f"{rev['icms']:.2f}",
                "total": f"{rev['total']:.2f}"}
        self.emit(data, key_values([("NFCom autorizadas", rev["documents"]),
                                    *[(k, fmt_money(v)) for k, v in rev["by_class"].items()],
                                    ("ICMS destacado", fmt_money(rev["icms"])), ("Total", fmt_money(rev["total"]))]))

    def cmd_transition(self, *, period, **options):
        emitter = services.emitter_get()
        t = reports.transition(parse_period(period), uf=emitter.uf if emitter else "SP")
        data = {"period": period, "uf": t["uf"], "revenue": {k: f"{v:.2f}" for k, v in t["revenue"]["by_class"].items()},
                "scenarios": [{"year": s.year, "taxes": {k: {tx: f"{v:.2f}" for tx, v in d.items()} for k, d in s.taxes.items()},
                               "total_by_class": {k: f"{v:.2f}" for k, v in s.total_by_class.items()},
                               "sva_saving": f"{s.sva_saving:.2f}"} for s in t["scenarios"]]}
        rows = [(s.year, *[fmt_money(s.total_by_class[k]) for k in reports.KINDS], fmt_money(s.sva_saving))
                for s in t["scenarios"]]
        self.emit(data, table(("Regras de", "Tributos SCM", "Tributos SVA", "Tributos outros", "Economia SVA"), rows))
