"""NFCom built, validated (official XSD) and signed: Agrega's pipeline vs a bare loop,
in one run, side by side.

* Agrega: ``fiscal.build.build`` from a ``Draft`` (items, rules already resolved: the
  per-document database work is measured by ``--with-db``), ``fiscal.signing.sign_enveloped``,
  ``fiscal.xsd.validate``.
* bare: the same XML from one pre-formatted string template (``str.format`` +
  ``lxml.etree.fromstring``), signed with the same signer and validated with the same
  schema — the least a program can do for the same document.

Prints documents/s and CPU ms per document of each (medians of the rounds), the ratio
Agrega ÷ bare (target ≥ 0.7), the peak RSS, and the extrapolation to 1,000,000 documents
a month. Small by default; the issue's figure is ``--documents 100000``.

    ./run bench nfcom_emit --documents 2000 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
os.environ.setdefault("AGREGA_DEBUG", "1")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--documents", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=3)
    return p.parse_args()


def main() -> int:
    args = parse_args()
    import django

    django.setup()
    from lxml import etree

    from agrega.fiscal import build, key as keys, signing, xsd
    from agrega.fiscal.certificates import load
    from sefaz_sandbox.pki import make_a1

    cnpj = "11222333000181"
    cert = load(make_a1(cnpj=cnpj, razao="BENCH LTDA", password="x"), "x")
    tz = timezone(timedelta(hours=-3))
    issued = datetime(2026, 12, 1, 9, 0, tzinfo=tz)
    emitter = build.Party(name="BENCH LTDA", document=cnpj, street="Rua A", number="1", district="Centro",
                          ibge_code="4106902", city="Curitiba", zip_code="80010000", uf="PR", ie="1234567890")

    def draft(n: int) -> build.Draft:
        k = keys.build_key(keys.KeyParts("41", "2612", cnpj, 1, n, 1, 0, f"{(n * 7919) % 10_000_000:07d}"))
        dest = build.Party(name=f"Cliente {n}", document="12345678909", street="Rua B", number=str(n),
                           district="Batel", ibge_code="4106902", city="Curitiba", zip_code="80420000", uf="PR")
        items = [build.Item("1", "Internet 300 Mega", "SCM", "0100401", Decimal("79.90"), cfop="5307",
                            icms_rate=Decimal("19.5"), pis_rate=Decimal("0.65"), cofins_rate=Decimal("3"),
                            cbs_rate=Decimal("0.9"), ibs_uf_rate=Decimal("0.1"), ibs_mun_rate=Decimal("0")),
                 build.Item("2", "Streaming Kids", "SVA", "1100101", Decimal("20.10"), icms_cst="41",
                            pis_rate=Decimal("0.65"), cofins_rate=Decimal("3"), cbs_rate=Decimal("0.9"),
                            ibs_uf_rate=Decimal("0.1"), ibs_mun_rate=Decimal("0"))]
        return build.Draft(key=k, environment=2, serie=1, number=n, c_nf=k[36:43], issued_at=issued,
                           emitter=emitter, crt=3, dest=dest, subscriber_code=str(n), subscriber_type="3",
                           contract_number=str(n), contract_start=date(2026, 1, 5), competence=date(2026, 12, 1),
                           due_date=date(2026, 12, 10), items=items, barcode=f"{n:011d}",
                           extra_info=[f"Titulo {n}"])

    # the bare template: Agrega's own output for document 1, with the varying fields as slots
    sample = etree.tostring(build.build(draft(1))[0]).decode()
    k1 = draft(1).key
    template = (sample.replace("{", "{{").replace("}", "}}").replace(k1, "{key}")
                .replace("<nNF>1</nNF>", "<nNF>{n}</nNF>").replace("<cNF>" + k1[36:43] + "</cNF>", "<cNF>{cnf}</cNF>")
                .replace("<cDV>" + k1[-1] + "</cDV>", "<cDV>{dv}</cDV>").replace("Cliente 1<", "Cliente {n}<")
                .replace("<nro>1</nro></enderDest>", "<nro>{n}</nro></enderDest>"))

    def agrega_one(n):
        root, _ = build.build(draft(n))
        xsd.validate(signing.sign_enveloped(root, certificate=cert))

    keys_cache = {}

    def bare_one(n):
        k = keys_cache.get(n) or draft(n).key
        root = etree.fromstring(template.format(key=k, n=n, cnf=k[36:43], dv=k[-1]))
        signed = signing.sign_enveloped(root, certificate=cert)
        if not xsd.schema(xsd.NFCOM).validate(etree.fromstring(signed)):
            raise SystemExit("bare document invalid")

    # the bare loop gets its keys computed beforehand (only the XML work is compared)
    for n in range(1, args.documents + 1):
        keys_cache[n] = draft(n).key
    agrega_one(1), bare_one(1)  # warm-up (schema compiled once for both)
    results = {"agrega": [], "bare": []}
    for r in range(args.rounds):
        for name, fn in (("agrega", agrega_one), ("bare", bare_one)) if r % 2 == 0 else (("bare", bare_one), ("agrega", agrega_one)):
            t0, c0 = time.perf_counter(), time.process_time()
            for n in range(1, args.documents + 1):
                fn(n)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            results[name].append((args.documents / wall, cpu * 1000 / args.documents))
            print(f"round {r + 1} {name:6s}: {args.documents / wall:8.1f} docs/s  {cpu * 1000 / args.documents:6.2f} ms CPU/doc",
                  flush=True)
    med = {name: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for name, v in results.items()}
    ratio = med["agrega"][0] / med["bare"][0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nAgrega {med['agrega'][0]:.1f} docs/s ({med['agrega'][1]:.2f} ms CPU/doc) vs bare "
          f"{med['bare'][0]:.1f} docs/s ({med['bare'][1]:.2f} ms CPU/doc): ratio {ratio:.2f} (target >= 0.70)")
    print(f"peak RSS {rss:.0f} MiB (target < 400 MB); load {os.getloadavg()[0]:.1f}")
    print(f"CPU ratio (bare ms ÷ Agrega ms per document): {med['bare'][1] / med['agrega'][1]:.2f}")
    print(f"1,000,000 NFCom/month: {1_000_000 / med['agrega'][0] / 60:.1f} min at this run's rate "
          f"(bare {1_000_000 / med['bare'][0] / 60:.1f} min); {med['agrega'][1] * 1_000_000 / 60_000:.1f} min of CPU "
          f"(bare {med['bare'][1] * 1_000_000 / 60_000:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
