"""``agrega dunning …``: a régua de cobrança.

    agrega dunning policies
    agrega dunning preset anatel --default
    agrega dunning preset simples --days 20 --name "Bloqueio em 20 dias"
    agrega dunning stages 3 --stage 5:notice --stage 20:block_automatic
    agrega dunning update 3 --trust-days 5 --trust-uses 2 --trust-period 60 --default
    agrega dunning update 3 --multa 2:2.00 --juros 3:1.00 --desconto 1:5.00:3 --validade 30
    agrega dunning sweep [--date AAAA-MM-DD]
    agrega dunning trust-release 42 --days 3 --note "vai pagar" --as atendente
"""

from __future__ import annotations

import argparse
from datetime import date

from agrega.billing.management.commands.billing import emit_summary
from agrega.core.management.base import AgregaCommand, fmt_datetime, key_values, positive_int, table
from agrega.dunning import selectors, services
from agrega.dunning.models import DunningAction, DunningPolicy


def policy_data(policy: DunningPolicy) -> dict:
    return {
        "id": policy.pk, "name": policy.name, "preset": policy.preset, "is_default": policy.is_default,
        "trust_release_days": policy.trust_release_days, "trust_release_max_uses": policy.trust_release_max_uses,
        "trust_release_period_days": policy.trust_release_period_days,
        "contracts_count": getattr(policy, "contracts_count", 0),
        "multa_modalidade": policy.multa_modalidade, "multa_valor": str(policy.multa_valor),
        "juros_modalidade": policy.juros_modalidade, "juros_valor": str(policy.juros_valor),
        "desconto_modalidade": policy.desconto_modalidade, "desconto_valor": str(policy.desconto_valor),
        "desconto_dias": policy.desconto_dias, "validade_apos_vencimento": policy.validade_apos_vencimento,
        "stages": [{"level": s.level, "days_after_due": s.days_after_due, "action": s.action,
                    "action_display": s.get_action_display()} for s in policy.stages.all()],
    }


def policy_lines(data: dict) -> list[str]:
    lines = [f"Régua {data['id']} — {data['name']}{' (padrão)' if data['is_default'] else ''}",
             *key_values([
                 ("Modelo", data["preset"] or "personalizada"),
                 ("Desbloqueio de confiança", (f"até {data['trust_release_days']} dia(s), "
                                               f"{data['trust_release_max_uses']} uso(s) a cada "
                                               f"{data['trust_release_period_days']} dias")),
                 ("Contratos que a escolheram", data["contracts_count"]),
                 ("Cobrança PIX", _charges_text(data)),
             ])]
    rows = [(s["level"], f"{s['days_after_due']} dia(s) após o vencimento", s["action_display"], s["action"])
            for s in data["stages"]]
    lines += ["  " + line for line in table(("Etapa", "Quando", "Ação", "Código"), rows)]
    return lines


def _charges_text(data: dict) -> str:
    parts = [f"{kind} {data[kind + '_modalidade']}:{data[kind + '_valor']}"
             for kind in ("multa", "juros", "desconto") if data[kind + "_modalidade"]]
    if data["desconto_modalidade"] in (1, 2):
        parts[-1] += f" até {data['desconto_dias']} dia(s) antes do vencimento"
    validade = data["validade_apos_vencimento"]
    parts.append(f"validade {validade if validade is not None else 'da conta PIX'}")
    return "; ".join(parts)


def charge_arg(text: str) -> dict:
    """``2:2.00`` → {modalidade: 2, valor: "2.00"}; ``0`` → none; the desconto takes
    ``MOD:VALOR:DIAS``. Ranges are checked by the service."""
    parts = text.split(":")
    if not parts[0].strip().isdigit() or len(parts) > 3 or (parts[0].strip() != "0" and len(parts) < 2):
        raise argparse.ArgumentTypeError(f"valor inválido: {text!r} (use MODALIDADE:VALOR, ex.: 2:2.00; 0 = sem)")
    out = {"modalidade": int(parts[0]), "valor": parts[1].strip() if len(parts) > 1 else "0"}
    if len(parts) == 3:
        if not parts[2].strip().isdigit():
            raise argparse.ArgumentTypeError(f"dias inválidos em {text!r}")
        out["dias"] = int(parts[2])
    return out


def validade_arg(text: str):
    if text.strip().lower() == "conta":
        return ""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError("validade: número de dias ou 'conta'")
    return int(text)


def stage_arg(text: str) -> dict:
    """``16:partial_suspension`` → {days_after_due: 16, action: partial_suspension}."""
    days, sep, action = text.partition(":")
    if not sep or not days.strip().isdigit():
        raise argparse.ArgumentTypeError(f"etapa inválida: {text!r} (use DIAS:AÇÃO, ex.: 16:partial_suspension)")
    return {"days_after_due": int(days), "action": action.strip()}


def date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"data inválida: {text!r} (use AAAA-MM-DD)") from None


def sweep_lines(data: dict) -> list[str]:
    lines = [f"Régua aplicada em {date.fromisoformat(data['today']):%d/%m/%Y}.",
             *key_values([
                 ("Liberados (nada vencido)", data["released"]),
                 ("Desbloqueios de confiança expirados", data["trust_expired"]),
                 ("Acessos alterados", data["access_changed"]),
                 ("Avisos de débito", data["notices"]),
             ])]
    if data["by_stage"]:
        lines.append("Por etapa:")
        lines += [f"  {name}: {count}" for name, count in data["by_stage"].items()]
    else:
        lines.append("Nenhum contrato mudou de etapa.")
    return lines


class Command(AgregaCommand):
    help = "Régua de cobrança: réguas, etapas, desbloqueio de confiança e execução."

    def add_subcommands(self, sub):
        actions = ", ".join(DunningAction.values)
        self.subcommand(sub, "policies", self.cmd_policies, help="Lista as réguas com suas etapas.")
        preset = self.subcommand(sub, "preset", self.cmd_preset, help="Cria uma régua a partir de um modelo.",
                                 epilog="anatel: aviso (1 dia), suspensão parcial (16), total (46), rescisão (76).\n"
                                        "simples: bloqueio automático (CA) após --days dias (padrão 15).")
        preset.add_argument("preset", choices=("anatel", "simples"), help="modelo")
        preset.add_argument("--name", help="nome da régua (padrão: o do modelo)")
        preset.add_argument("--days", dest="block_after_days", type=positive_int, metavar="N",
                            help="simples: dias após o vencimento para bloquear")
        preset.add_argument("--default", dest="make_default", action="store_true", help="torna a régua padrão")
        self.add_actor(preset)
        stages = self.subcommand(sub, "stages", self.cmd_stages, help="Substitui as etapas de uma régua.",
                                 epilog=f"Ações: {actions}.")
        stages.add_argument("policy_id", type=positive_int, metavar="ID")
        stages.add_argument("--stage", dest="stages", type=stage_arg, action="append", required=True,
                            metavar="DIAS:AÇÃO", help="uma por etapa, em ordem (ex.: 16:partial_suspension)")
        self.add_actor(stages)
        update = self.subcommand(sub, "update", self.cmd_update,
                                 help="Altera nome, limites do desbloqueio de confiança ou torna a régua padrão.")
        update.add_argument("policy_id", type=positive_int, metavar="ID")
        update.add_argument("--name")
        update.add_argument("--trust-days", dest="trust_release_days", type=int, metavar="N",
                            help="dias máximos de um desbloqueio de confiança (1–30)")
        update.add_argument("--trust-uses", dest="trust_release_max_uses", type=int, metavar="N",
                            help="usos permitidos por período (0–30)")
        update.add_argument("--trust-period", dest="trust_release_period_days", type=int, metavar="N",
                            help="período dos usos, em dias (1–365)")
        update.add_argument("--default", dest="is_default", action="store_true", default=None,
                            help="torna esta a régua padrão")
        update.add_argument("--multa", type=charge_arg, metavar="MOD:VALOR",
                            help="multa da cobrança PIX: 1 valor fixo, 2 percentual; 0 = sem multa")
        update.add_argument("--juros", type=charge_arg, metavar="MOD:VALOR",
                            help="juros: 1–4 dias corridos (valor, % ao dia, ao mês, ao ano), 5–8 dias úteis; 0 = sem")
        update.add_argument("--desconto", type=charge_arg, metavar="MOD:VALOR[:DIAS]",
                            help="desconto: 1 valor fixo / 2 percentual até DIAS antes do vencimento, "
                                 "3–6 por dia de antecipação; 0 = sem")
        update.add_argument("--validade", dest="validade_apos_vencimento", type=validade_arg, metavar="DIAS|conta",
                            help="dias após o vencimento em que a cobrança PIX pode ser paga ('conta': a da conta PIX)")
        self.add_actor(update)
        sweep = self.subcommand(sub, "sweep", self.cmd_sweep, help="Aplica a régua agora a todos os contratos.")
        sweep.add_argument("--date", dest="today", type=date_arg, metavar="AAAA-MM-DD",
                           help="data de referência (padrão: hoje; não pode ser futura)")
        self.add_actor(sweep)
        trust = self.subcommand(
            sub, "trust-release", self.cmd_trust_release,
            help="Desbloqueio de confiança: libera por alguns dias um contrato bloqueado pela régua (FA/CA).",
        )
        trust.add_argument("contract", type=int, help="ID do contrato")
        trust.add_argument("--days", type=positive_int, metavar="N", help="dias (padrão e máximo: os da régua)")
        trust.add_argument("--note", default="", metavar="TEXTO", help="observação no histórico")
        self.add_actor(trust)

    def _show(self, policy, prefix: str | None = None):
        data = policy_data(policy)
        self.emit(data, lambda: ([prefix] if prefix else []) + policy_lines(data))

    def cmd_policies(self, **options):
        data = [policy_data(p) for p in selectors.policy_list()]

        def lines():
            out = []
            for item in data:
                out += policy_lines(item) + [""]
            return out[:-1] or ["Nenhuma régua cadastrada."]

        self.emit(data, lines)

    def cmd_preset(self, *, preset, name=None, block_after_days=None, make_default=False, as_user=None, **options):
        policy = services.policy_create(preset=preset, name=name, make_default=make_default,
                                      block_after_days=block_after_days, actor=self.actor(as_user))
        self._show(policy, "Régua criada.")

    def cmd_stages(self, *, policy_id, stages, as_user=None, **options):
        policy = services.policy_replace_stages(policy_id=policy_id, stages=stages, actor=self.actor(as_user))
        self._show(policy, "Etapas salvas.")

    def cmd_update(self, *, policy_id, as_user=None, **options):
        changes = self.given(options, ("name", "trust_release_days", "trust_release_max_uses",
                                       "trust_release_period_days", "is_default", "validade_apos_vencimento"))
        if changes.get("validade_apos_vencimento") == "":
            changes["validade_apos_vencimento"] = None
        for kind in ("multa", "juros", "desconto"):
            given = options.get(kind)
            if given is not None:
                changes[f"{kind}_modalidade"], changes[f"{kind}_valor"] = given["modalidade"], given["valor"]
                if kind == "desconto":
                    changes["desconto_dias"] = given.get("dias", 0)
        policy = services.policy_update(policy_id=policy_id, actor=self.actor(as_user), **changes)
        self._show(policy, "Régua salva.")

    def cmd_sweep(self, *, today=None, as_user=None, **options):
        data = services.sweep_run(today=today, actor=self.actor(as_user)).as_dict()
        self.emit(data, lambda: sweep_lines(data))

    def cmd_trust_release(self, *, contract, days=None, note="", as_user=None, **options):
        release = services.trust_release(contract_id=contract, days=days, actor=self.actor(as_user), note=note)
        emit_summary(self, contract, f"Desbloqueio de confiança concedido até {fmt_datetime(release.ends_at)}.",
                     {"release": {"id": release.pk, "starts_at": release.starts_at, "ends_at": release.ends_at,
                                  "note": release.note, "actor": release.actor_label}})
