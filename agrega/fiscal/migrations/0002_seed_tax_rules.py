"""Seed the dated tax rules (sources in agrega/fiscal/data/README.md). Each row says
where it comes from; estimates are marked so. The ISP's accountant can correct them in
Configurações > Fiscal > Regras tributárias (admin) — a document uses the row in force
on its own date."""

from datetime import date
from decimal import Decimal

from django.db import migrations

ICMS_COMM = {  # modal internal rate for communication services, 2025 (LC 194/2022) — to confirm
    "AC": "19", "AL": "19", "AM": "20", "AP": "18", "BA": "20.5", "CE": "20", "DF": "20", "ES": "17", "GO": "19",
    "MA": "23", "MG": "18", "MS": "17", "MT": "17", "PA": "19", "PB": "20", "PE": "20.5", "PI": "22.5",
    "PR": "19.5", "RJ": "20", "RN": "20", "RO": "19.5", "RR": "20", "RS": "17", "SC": "17", "SE": "20",
    "SP": "18", "TO": "20",
}
ICMS_SRC = "Alíquota modal interna de comunicação da UF em 2025 (LC 194/2022, serviço essencial) — estimativa, confirmar"
# EC 132/2023, ADCT art. 128: ICMS reduced to 90/80/70/60 % in 2029–2032, extinct in 2033
ICMS_STEPS = [(date(2000, 1, 1), date(2028, 12, 31), Decimal("1")), (date(2029, 1, 1), date(2029, 12, 31), Decimal("0.9")),
              (date(2030, 1, 1), date(2030, 12, 31), Decimal("0.8")), (date(2031, 1, 1), date(2031, 12, 31), Decimal("0.7")),
              (date(2032, 1, 1), date(2032, 12, 31), Decimal("0.6"))]
REF_CBS = Decimal("8.8")   # estimativa do Ministério da Fazenda (alíquota de referência, total 26,5 %)
REF_IBS = Decimal("17.7")
TRANSITION = "EC 132/2023 (ADCT arts. 125–129) e LC 214/2025 (transição)"

ROWS = [
    ("PIS", "", date(2000, 1, 1), date(2026, 12, 31), Decimal("0.65"), "Lei 9.718/1998 (cumulativo; Lei 10.833/2003 art. 10) — extinto em 2027 (LC 214/2025)"),
    ("COFINS", "", date(2000, 1, 1), date(2026, 12, 31), Decimal("3"), "Lei 9.718/1998 (cumulativo; Lei 10.833/2003 art. 10) — extinta em 2027 (LC 214/2025)"),
    ("CBS", "", date(2026, 1, 1), date(2026, 12, 31), Decimal("0.9"), f"{TRANSITION}: alíquota de teste 2026"),
    ("IBS_UF", "", date(2026, 1, 1), date(2026, 12, 31), Decimal("0.1"), f"{TRANSITION}: alíquota de teste 2026"),
    ("IBS_MUN", "", date(2026, 1, 1), date(2026, 12, 31), Decimal("0"), f"{TRANSITION}: alíquota de teste 2026"),
    ("CBS", "", date(2027, 1, 1), date(2028, 12, 31), REF_CBS - Decimal("0.1"), f"{TRANSITION}: referência menos 0,1 p.p. (referência estimada 8,8 %)"),
    ("IBS_UF", "", date(2027, 1, 1), date(2028, 12, 31), Decimal("0.05"), f"{TRANSITION}: 0,05 % estadual em 2027–2028"),
    ("IBS_MUN", "", date(2027, 1, 1), date(2028, 12, 31), Decimal("0.05"), f"{TRANSITION}: 0,05 % municipal em 2027–2028"),
]
for year, share in ((2029, "0.1"), (2030, "0.2"), (2031, "0.3"), (2032, "0.4")):
    ROWS.append(("CBS", "", date(year, 1, 1), date(year, 12, 31), REF_CBS, f"{TRANSITION}: referência estimada"))
    ROWS.append(("IBS_UF", "", date(year, 1, 1), date(year, 12, 31), (REF_IBS * Decimal(share)).quantize(Decimal("0.0001")),
                 f"{TRANSITION}: {int(Decimal(share) * 100)} % da referência estimada (divisão UF/município ainda não fixada: tudo em UF)"))
ROWS += [
    ("CBS", "", date(2033, 1, 1), None, REF_CBS, f"{TRANSITION}: alíquota plena (referência estimada)"),
    ("IBS_UF", "", date(2033, 1, 1), None, REF_IBS, f"{TRANSITION}: alíquota plena (referência estimada; divisão UF/município ainda não fixada)"),
]


def seed(apps, schema_editor):
    TaxRule = apps.get_model("fiscal", "TaxRule")
    rows = [TaxRule(kind=k, service_kind=sk, uf="", valid_from=f, valid_to=t, rate=r, source=s[:300])
            for k, sk, f, t, r, s in ROWS]
    for uf, rate in ICMS_COMM.items():
        for start, end, factor in ICMS_STEPS:
            src = ICMS_SRC if factor == 1 else f"{ICMS_SRC}; reduzida a {int(factor * 100)} % ({TRANSITION})"
            rows.append(TaxRule(kind="ICMS", service_kind="SCM", uf=uf, valid_from=start, valid_to=end,
                                rate=(Decimal(rate) * factor).quantize(Decimal("0.0001")), source=src[:300]))
    TaxRule.objects.bulk_create(rows)


def unseed(apps, schema_editor):
    apps.get_model("fiscal", "TaxRule").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("fiscal", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
