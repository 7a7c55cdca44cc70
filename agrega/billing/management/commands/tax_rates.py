"""``agrega tax-rates list|set|remove``: as alíquotas do relatório de receita SCM/SVA.

    agrega tax-rates set SCM ICMS 25
    agrega tax-rates set SVA ISS 5
    agrega tax-rates list
"""

from __future__ import annotations

from agrega.billing.taxes import services as taxes
from agrega.core.management.base import AgregaCommand, table


def rates_data() -> list[dict]:
    return [
        {"fiscal_class": c["fiscal_class"], "label": c["label"],
         "rates": [{"tax": r.tax, "rate": taxes.plain_rate(r.rate)} for r in c["rates"]],
         "total_rate": taxes.plain_rate(c["total_rate"])}
        for c in taxes.class_summaries()
    ]


def pct(text: str) -> str:
    return text.replace(".", ",") + "%"


def rates_lines(data: list[dict]) -> list[str]:
    rows = []
    for c in data:
        rows += [(c["fiscal_class"], r["tax"], pct(r["rate"])) for r in c["rates"]]
        rows.append((c["fiscal_class"], "(soma)" if c["rates"] else "(nenhum tributo)", pct(c["total_rate"])))
    return table(("Classe", "Tributo", "Alíquota"), rows)


class Command(AgregaCommand):
    help = "Alíquotas por classe fiscal (SCM, SVA, OUTRO) usadas no relatório de receita."

    def add_subcommands(self, sub):
        self.subcommand(sub, "list", self.cmd_list, help="Lista os tributos de cada classe fiscal.")
        set_ = self.subcommand(sub, "set", self.cmd_set, help="Cadastra ou altera a alíquota de um tributo.",
                               epilog="Exemplo: agrega tax-rates set SCM ICMS 25")
        set_.add_argument("fiscal_class", metavar="CLASSE", help="SCM, SVA ou OUTRO")
        set_.add_argument("tax", metavar="TRIBUTO", help="ex.: ICMS, PIS, COFINS, ISS")
        set_.add_argument("rate", metavar="ALIQUOTA", help="percentual de 0 a 100, ex.: 25 ou 3,65")
        self.add_actor(set_)
        remove = self.subcommand(sub, "remove", self.cmd_remove, help="Remove um tributo de uma classe.")
        remove.add_argument("fiscal_class", metavar="CLASSE")
        remove.add_argument("tax", metavar="TRIBUTO")
        self.add_actor(remove)

    def cmd_list(self, **options):
        data = rates_data()
        self.emit({"classes": data}, lambda: rates_lines(data))

    def cmd_set(self, *, fiscal_class, tax, rate, as_user=None, **options):
        row = taxes.tax_rate_set(fiscal_class=fiscal_class, tax=tax, rate=rate, actor=self.actor(as_user))
        data = rates_data()
        self.emit({"classes": data}, lambda: [
            f"{row.tax} de {row.fiscal_class}: {pct(taxes.plain_rate(row.rate))}.", *rates_lines(data)])

    def cmd_remove(self, *, fiscal_class, tax, as_user=None, **options):
        taxes.tax_rate_remove(fiscal_class=fiscal_class, tax=tax, actor=self.actor(as_user))
        data = rates_data()
        self.emit({"classes": data}, lambda: ["Tributo removido.", *rates_lines(data)])
