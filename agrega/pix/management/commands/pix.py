"""``agrega pix …``: contas PIX (administradores), o PIX de um título (copia-e-cola e
QR code no terminal), devolução, reconciliação e Pix Automático."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import segno

from agrega.core.errors import ApplicationError, NotFound
from agrega.core.management.base import AgregaCommand, fmt_datetime, key_values, table
from agrega.pix import certs, recurrence, selectors, services
from agrega.pix.models import PixAccount


def account_data(a: PixAccount) -> dict:
    return {"id": a.pk, "name": a.name, "base_url": a.base_url, "client_id": a.client_id, "chave": a.chave,
            "active": a.active, "cert_subject": a.cert_subject, "cert_not_after": a.cert_not_after,
            "scopes_granted": a.scopes_granted, "last_check_ok": a.last_check_ok,
            "last_check_code": a.last_check_code, "last_check_message": a.last_check_message,
            "last_check_warning": a.last_check_warning, "webhook_registered_at": a.webhook_registered_at,
            "webhook_automatico_error": a.webhook_automatico_error, "psp_ca": certs.describe_ca(a.psp_ca_pem)}


class Command(AgregaCommand):
    help = "PIX: contas no PSP, cobranças dos títulos, devoluções e Pix Automático."

    def add_subcommands(self, sub):
        self.subcommand(sub, "accounts", self.cmd_accounts, help="Lista as contas PIX.")
        add = self.subcommand(sub, "account-add", self.cmd_add, help="Cadastra uma conta PIX.",
                              epilog="O client secret vem de AGREGA_PIX_CLIENT_SECRET (nunca na linha de comando).")
        add.add_argument("--name", required=True)
        add.add_argument("--url", required=True, help="URL da API Pix do PSP")
        add.add_argument("--client-id", required=True)
        add.add_argument("--chave", required=True, help="chave Pix que recebe")
        add.add_argument("--token-url", default="")
        add.add_argument("--pkcs12", type=Path, help="certificado do cliente (.p12/.pfx)")
        add.add_argument("--cert", type=Path, help="certificado PEM")
        add.add_argument("--key", type=Path, help="chave privada PEM")
        add.add_argument("--validade", type=int, default=30, help="dias após o vencimento (padrão 30)")
        add.add_argument("--psp-ca", type=Path, help="CA do PSP (PEM), se o servidor do PSP usa uma CA própria")
        ca = self.subcommand(sub, "account-ca", self.cmd_ca, help="Define ou remove a CA do PSP de uma conta.")
        ca.add_argument("account", type=int, help="id da conta PIX")
        which = ca.add_mutually_exclusive_group(required=True)
        which.add_argument("--file", type=Path, help="certificado(s) PEM da CA do PSP")
        which.add_argument("--remove", action="store_true", help="remove a CA (valem só as CAs do sistema)")
        for name, handler, text in (("check", self.cmd_check, "Testar conexão: token e escopos."),
                                    ("charges", self.cmd_charges, "Cria as cobranças dos títulos em aberto."),
                                    ("reconcile", self.cmd_reconcile, "Reconcilia agora (GET /pix).")):
            p = self.subcommand(sub, name, handler, help=text)
            p.add_argument("account", type=int, help="id da conta PIX")
        hook = self.subcommand(sub, "webhook", self.cmd_webhook, help="Registra o webhook no PSP.")
        hook.add_argument("account", type=int)
        hook.add_argument("--public-url", required=True, help="endereço público do Agrega (https://…)")
        show = self.subcommand(sub, "show", self.cmd_show, help="PIX de um título: copia-e-cola e QR code.")
        show.add_argument("invoice", type=int, help="número do título")
        sync = self.subcommand(sub, "sync", self.cmd_sync, help="Envia/ajusta a cobrança de um título agora.")
        sync.add_argument("invoice", type=int)
        refund = self.subcommand(sub, "refund", self.cmd_refund, help="Devolve (parte de) um Pix recebido.")
        refund.add_argument("payment", type=int, help="id do pagamento")
        refund.add_argument("--amount", required=True)
        refund.add_argument("--reason", default="")
        self.add_actor(refund)
        rec = self.subcommand(sub, "rec-start", self.cmd_rec_start, help="Inicia Pix Automático de um contrato.")
        rec.add_argument("contract", type=int)
        rec.add_argument("--amount", default=None, help="valor fixo (vazio: variável)")
        solic = self.subcommand(sub, "rec-request", self.cmd_rec_request,
                                help="Envia a solicitação de Pix Automático ao banco do pagador (POST /solicrec).")
        solic.add_argument("contract", type=int)
        solic.add_argument("--ispb", required=True, help="ISPB do banco do pagador (8 caracteres)")
        solic.add_argument("--conta", required=True, help="conta do pagador")
        solic.add_argument("--agencia", default="", help="agência do pagador")
        solic.add_argument("--amount", default=None, help="valor fixo (vazio: variável)")
        cancel = self.subcommand(sub, "rec-cancel", self.cmd_rec_cancel, help="Cancela o Pix Automático.")
        cancel.add_argument("contract", type=int)

    def cmd_accounts(self, **options):
        rows = list(selectors.account_list())
        expiring = {a.pk for a in services.cert_expiring()}

        def lines():
            if not rows:
                return ["Nenhuma conta PIX."]
            out = table(("ID", "Nome", "URL", "Chave", "Certificado até", "Conexão"),
                        [(a.pk, a.name, a.base_url, a.chave,
                          fmt_datetime(a.cert_not_after) + (" (vence em breve!)" if a.pk in expiring else ""),
                          {True: "OK", False: "falhou", None: "—"}[a.last_check_ok]) for a in rows])
            return out

        self.emit([account_data(a) for a in rows], lines)

    def cmd_add(self, *, name, url, client_id, chave, token_url="", pkcs12=None, cert=None, key=None,
                validade=30, psp_ca=None, **options):
        secret = os.environ.get("AGREGA_PIX_CLIENT_SECRET", "")
        account = services.account_create(
            name=name, base_url=url, client_id=client_id, client_secret=secret, chave=chave, token_url=token_url,
            validade_apos_vencimento=validade, pkcs12_data=pkcs12.read_bytes() if pkcs12 else None,
            cert_password=os.environ.get("AGREGA_PIX_CERT_PASSWORD", ""),
            cert_pem=cert.read_text() if cert else "", key_pem=key.read_text() if key else "",
            psp_ca_pem=psp_ca.read_text() if psp_ca else "")
        self.emit(account_data(account), [f"Conta PIX {account.pk} cadastrada."])

    def cmd_ca(self, *, account, file=None, remove=False, **options):
        a = services.account_update(account_id=account, psp_ca_pem="" if remove else file.read_text())
        self.emit(account_data(a), [f"CA do PSP: {certs.describe_ca(a.psp_ca_pem) or 'nenhuma'}."])

    def cmd_check(self, *, account, **options):
        a = services.account_check(account_id=account)
        self.emit(account_data(a), [a.last_check_message, *([f"Aviso: {a.last_check_warning}"]
                                                            if a.last_check_warning else []),
                                    f"Escopos: {a.scopes_granted or '—'}"])
        if not a.last_check_ok:
            sys.exit(1)

    def cmd_webhook(self, *, account, public_url, **options):
        a = services.account_register_webhook(account_id=account, public_url=public_url)
        self.emit(account_data(a), ["Webhook registrado no PSP.", *([f"Aviso: {a.webhook_automatico_error}"]
                                                                   if a.webhook_automatico_error else [])])

    def cmd_charges(self, *, account, **options):
        n = services.charges_for_open_invoices(account_id=account)
        self.emit({"count": n}, [f"{n} título(s) enviados para cobrança PIX."])

    def cmd_reconcile(self, *, account, **options):
        r = services.reconcile(account_id=account)
        self.emit(r, [f"{r['seen']} Pix consultados; {r['applied']} de títulos do Agrega."])

    def cmd_sync(self, *, invoice, **options):
        charge = services.charge_sync(invoice_id=invoice)
        if charge is None:
            raise ApplicationError("pix_charge_none", "Nenhuma cobrança: título não está em aberto ou não há conta PIX.")
        self.cmd_show(invoice=invoice, **options)

    def cmd_show(self, *, invoice, **options):
        data = selectors.invoice_pix(invoice)
        if data is None:
            raise NotFound("Cobrança PIX", "pix_charge_not_found")

        def lines():
            out = [f"PIX do título {invoice}", *key_values([("txid", data["txid"]), ("Situação", data["status_label"]),
                                                             ("Valor", data["amount"]), ("Erro", data["last_error"])])]
            if data["copia_e_cola"]:
                qr = io.StringIO()
                segno.make(data["copia_e_cola"], error="m").terminal(out=qr, compact=True)
                out += ["PIX copia e cola:", data["copia_e_cola"], qr.getvalue()]
            if data["history"]:
                out += ["Cobranças anteriores (não pagáveis):",
                        *(f"  {c['txid']}  {c['status_label']}  {c['amount']}" for c in data["history"])]
            return out

        self.emit({k: v for k, v in data.items() if k != "qr_svg"}, lines)

    def cmd_refund(self, *, payment, amount, reason="", as_user=None, **options):
        r = services.refund_request(payment_id=payment, amount=amount, reason=reason, actor=self.actor(as_user))
        self.emit({"refund_id": r.refund_id, "status": r.status, "amount": f"{r.amount:.2f}"},
                  [f"Devolução {r.refund_id}: {r.get_status_display()}."])

    def cmd_rec_start(self, *, contract, amount=None, **options):
        rec = recurrence.recurrence_start(contract_id=contract, fixed_amount=amount)
        self.emit({"id_rec": rec.id_rec, "status": rec.status}, [f"Pix Automático {rec.id_rec}: {rec.get_status_display()}."])

    def cmd_rec_request(self, *, contract, ispb, conta, agencia="", amount=None, **options):
        rec = recurrence.solicrec_send(contract_id=contract, ispb=ispb, conta=conta, agencia=agencia,
                                       fixed_amount=amount)
        self.emit({"id_rec": rec.id_rec, "status": rec.status, "solicrec_id": rec.solicrec_id,
                   "solicrec_status": rec.solicrec_status},
                  [f"Solicitação {rec.solicrec_id} ao banco do pagador: {rec.get_solicrec_status_display()} "
                   f"(Pix Automático {rec.id_rec}: {rec.get_status_display()})."])

    def cmd_rec_cancel(self, *, contract, **options):
        n = recurrence.recurrence_cancel(contract_id=contract)
        self.emit({"count": n}, [f"{n} autorização(ões) cancelada(s)."])
