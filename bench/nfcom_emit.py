"""NFCom for N títulos, Agrega vs the least a program can do, both sides in one run:

1. **built, validated (official XSD) and signed** — Agrega's pipeline
   (``fiscal.build.build`` from a ``Draft``, ``fiscal.signing.sign_enveloped``,
   ``fiscal.xsd.validate``) vs a bare loop (one pre-formatted string template →
   ``lxml.etree.fromstring``, the same signer, the same schema). Documents/s and CPU ms
   per document of each, measured in alternating blocks (the order flips every block),
   ratio Agrega ÷ bare (target ≥ 0.7), peak RSS (target < 400 MB).
2. **authorised** — the same N documents (Agrega's, streamed from a temporary file, so
   memory stays bounded) sent to the SEFAZ sandbox (mTLS, 100 ms latency by default):
   alternate blocks through ``SefazClient.autorizar`` and through a bare httpx loop
   posting a formatted envelope, at the same concurrency (target ≥ 0.8). Each document is
   sent once; every one must come back authorised.

The figures are the totals over all blocks of each side (documents ÷ summed seconds) and
the median of the per-block ratios; the extrapolation to 1,000,000 documents a month is
printed, and the last line is machine-readable JSON. The per-document database work
(numbering under the série lock, reading the título) is not in this figure.

    ./run bench nfcom_emit --quick                  # 1,000 documents, 400 authorised
    ./run bench nfcom_emit --documents 100000       # the issue's figure
    ./run bench nfcom_emit --documents 10000 --authorise 0   # phase 1 only
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import resource
import statistics
import struct
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
os.environ.setdefault("AGREGA_DEBUG", "1")
os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")

EMIT_TARGET, AUTH_TARGET, RSS_TARGET_MB = 0.7, 0.8, 400
CNPJ, PASSWORD = "11222333000181", "bench"
BARE_ENVELOPE = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/'
                 'soap-envelope"><soap:Body><nfcomDadosMsg xmlns="http://www.portalfiscal.inf.br/nfcom/wsdl/'
                 'NFComRecepcao">{}</nfcomDadosMsg></soap:Body></soap:Envelope>')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--documents", type=int, default=10_000, help="títulos (NFCom built by each side)")
    p.add_argument("--block", type=int, default=500, help="documents per block (sides alternate per block)")
    p.add_argument("--authorise", type=int, default=None,
                   help="how many of them to authorise (default: all; 0 skips phase 2)")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--quick", action="store_true", help="1,000 documents, 400 authorised, blocks of 100")
    args = p.parse_args(argv)
    if args.quick:
        args.documents, args.block, args.authorise = 1000, 100, 400
    if args.authorise is None:
        args.authorise = args.documents
    args.authorise = min(args.authorise, args.documents)
    return args


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Factory:
    """The same NFCom, document n, for both sides: two items (SCM with ICMS, SVA without),
    PIS/Cofins and the 2026 IBS/CBS group, issued now (the sandbox refuses old dates)."""

    def __init__(self, cert):
        from agrega.fiscal import build

        self.build, self.cert = build, cert
        self.issued = datetime.now(timezone(timedelta(hours=-3))).replace(microsecond=0)
        self.emitter = build.Party(name="BENCH LTDA", document=CNPJ, street="Rua A", number="1", district="Centro",
                                   ibge_code="4314902", city="Porto Alegre", zip_code="90010000", uf="RS",
                                   ie="1234567890")

    def key(self, n: int) -> str:
        from agrega.fiscal import key as keys

        return keys.build_key(keys.KeyParts("43", self.issued.strftime("%y%m"), CNPJ, 1, n, 1, 0,
                                            f"{(n * 7919) % 10_000_000:07d}"))

    def draft(self, n: int):
        b = self.build
        k = self.key(n)
        dest = b.Party(name=f"Cliente {n}", document="12345678909", street="Rua B", number=f"D{n}", district="Centro",
                       ibge_code="4314902", city="Porto Alegre", zip_code="90010000", uf="RS")
        rates = dict(pis_rate=Decimal("0.65"), cofins_rate=Decimal("3"), cbs_rate=Decimal("0.9"),
                     ibs_uf_rate=Decimal("0.1"), ibs_mun_rate=Decimal("0"))
        items = [b.Item("1", "Internet 300 Mega", "SCM", "0100401", Decimal("79.90"), cfop="5307",
                        icms_rate=Decimal("17"), **rates),
                 b.Item("2", "Streaming Kids", "SVA", "1100101", Decimal("20.10"), icms_cst="41", **rates)]
        day = self.issued.date()
        return b.Draft(key=k, environment=2, serie=1, number=n, c_nf=k[36:43], issued_at=self.issued,
                       emitter=self.emitter, crt=3, dest=dest, subscriber_code=f"A{n}", subscriber_type="3",
                       contract_number=f"C{n}", contract_start=day.replace(day=1), competence=day.replace(day=1),
                       due_date=day + timedelta(days=10), items=items, barcode=f"{n:011d}",
                       extra_info=[f"Titulo {n}"])


def emit_phase(args, cert, out) -> dict:
    """Phase 1. Agrega's signed documents are appended to ``out`` (length-prefixed)."""
    from lxml import etree

    from agrega.fiscal import signing, xsd

    f = Factory(cert)
    sample = etree.tostring(f.build.build(f.draft(1))[0]).decode()
    k1 = f.key(1)
    template = (sample.replace("{", "{{").replace("}", "}}").replace(k1, "{key}")
                .replace("<nNF>1</nNF>", "<nNF>{n}</nNF>").replace(f"<cNF>{k1[36:43]}</cNF>", "<cNF>{cnf}</cNF>")
                .replace(f"<cDV>{k1[-1]}</cDV>", "<cDV>{dv}</cDV>").replace("Cliente 1<", "Cliente {n}<")
                .replace("<nro>D1<", "<nro>D{n}<")
                .replace("<iCodAssinante>A1<", "<iCodAssinante>A{n}<").replace("<nContrato>C1<", "<nContrato>C{n}<")
                .replace("<codBarras>00000000001<", "<codBarras>{n:011d}<").replace("Titulo 1<", "Titulo {n}<"))
    schema = xsd.schema(xsd.NFCOM)

    def agrega(numbers, keys_):
        for n in numbers:
            root, _ = f.build.build(f.draft(n))
            signed = signing.sign_enveloped(root, certificate=cert)
            xsd.validate(signed)
            out.write(struct.pack(">I", len(signed)) + signed)

    def bare(numbers, keys_):
        for n, k in zip(numbers, keys_):
            root = etree.fromstring(template.format(key=k, n=n, cnf=k[36:43], dv=k[-1]))
            signed = signing.sign_enveloped(root, certificate=cert)
            if not schema.validate(etree.fromstring(signed)):
                raise SystemExit("bare document invalid: " + str(schema.error_log.last_error))

    # the same document from both sides (checked once, so the comparison is fair)
    agrega_doc = etree.tostring(f.build.build(f.draft(7))[0])
    bare_doc = etree.tostring(etree.fromstring(template.format(key=f.key(7), n=7, cnf=f.key(7)[36:43],
                                                                 dv=f.key(7)[-1])))
    assert agrega_doc == bare_doc, "the bare template does not make Agrega's document"
    totals = {"agrega": [0, 0.0, 0.0], "bare": [0, 0.0, 0.0]}  # docs, wall s, cpu s
    ratios, cpu_ratios = [], []
    start = 1
    block_no = 0
    print(f"Fase 1: {args.documents} NFCom construídas, validadas e assinadas por lado, blocos de {args.block}",
          flush=True)
    while start <= args.documents:
        numbers = range(start, min(start + args.block, args.documents + 1))
        keys_ = [f.key(n) for n in numbers]  # outside the timing (the bare loop gets them ready)
        rates = {}
        order = ("agrega", "bare") if block_no % 2 == 0 else ("bare", "agrega")
        for name in order:
            t0, c0 = time.perf_counter(), time.process_time()
            (agrega if name == "agrega" else bare)(numbers, keys_)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            t = totals[name]
            t[0] += len(numbers)
            t[1] += wall
            t[2] += cpu
            rates[name] = (len(numbers) / wall, cpu)
        ratios.append(rates["agrega"][0] / rates["bare"][0])
        cpu_ratios.append(rates["bare"][1] / rates["agrega"][1])
        block_no += 1
        start += args.block
        if block_no % max(1, 5000 // args.block) == 0 or start > args.documents:
            print(f"  {start - 1:>7} docs: Agrega {totals['agrega'][0] / totals['agrega'][1]:6.1f}/s, "
                  f"bare {totals['bare'][0] / totals['bare'][1]:6.1f}/s, RSS {rss_mib():.0f} MiB, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    a, b = totals["agrega"], totals["bare"]
    return {"agrega_rate": a[0] / a[1], "bare_rate": b[0] / b[1], "agrega_cpu_ms": a[2] * 1000 / a[0],
            "bare_cpu_ms": b[2] * 1000 / b[0], "ratio_total": (a[0] / a[1]) / (b[0] / b[1]),
            "ratio_median": statistics.median(ratios), "cpu_ratio_median": statistics.median(cpu_ratios),
            "cpu_ratio_total": (b[2] / b[0]) / (a[2] / a[0]), "blocks": block_no}


def read_docs(path: str, limit: int):
    with open(path, "rb") as fh:
        for _ in range(limit):
            head = fh.read(4)
            if len(head) < 4:
                return
            yield fh.read(struct.unpack(">I", head)[0])


def authorise_phase(args, sandbox, a1: bytes, path: str, count: int, block: int) -> dict:
    """Phase 2: ``count`` signed documents from ``path``, alternate blocks per side."""
    import httpx

    from agrega.fiscal.sefaz.client import SefazClient
    from sefaz_sandbox.testing import client_context

    client = SefazClient(url=sandbox.url, pkcs12=a1, password=PASSWORD, timeout=60, ca_bundle=sandbox.ca_path)
    context = client_context(sandbox.ca_path, a1, PASSWORD, str(sandbox.pki.dir))
    bare = httpx.Client(verify=context, timeout=60, trust_env=False,
                        limits=httpx.Limits(max_connections=args.concurrency))
    url = sandbox.url + "/WS/NFComRecepcao/NFComRecepcao.asmx"

    def with_client(xml: bytes) -> bool:
        return client.autorizar(xml).authorised

    def with_bare(xml: bytes) -> bool:
        payload = base64.b64encode(gzip.compress(xml, mtime=0)).decode()
        response = bare.post(url, content=BARE_ENVELOPE.format(payload).encode(),
                             headers={"Content-Type": "application/soap+xml; charset=utf-8"})
        return response.status_code == 200 and b"<cStat>100</cStat>" in response.content

    totals = {"client": [0, 0.0, 0.0], "bare": [0, 0.0, 0.0]}
    ratios, pending = [], {}
    docs = read_docs(path, count)
    block_no = 0
    print(f"Fase 2: {count} NFCom autorizadas no sandbox (latência {args.latency_ms:.0f} ms, concorrência "
          f"{args.concurrency}), blocos de {block} alternados", flush=True)
    with ThreadPoolExecutor(args.concurrency) as pool:
        while True:
            name = ("client", "bare")[block_no % 2] if (block_no // 2) % 2 == 0 else ("bare", "client")[block_no % 2]
            batch = [d for _, d in zip(range(block), docs)]
            if not batch:
                break
            t0, c0 = time.perf_counter(), time.process_time()
            ok = sum(pool.map(with_client if name == "client" else with_bare, batch))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if ok != len(batch):
                raise SystemExit(f"{len(batch) - ok} NFCom não autorizadas ({name})")
            t = totals[name]
            t[0] += len(batch)
            t[1] += wall
            t[2] += cpu
            pending[name] = len(batch) / wall
            if len(pending) == 2:
                ratios.append(pending["client"] / pending["bare"])
                pending = {}
            block_no += 1
            done = totals["client"][0] + totals["bare"][0]
            if block_no % 10 == 0 or done >= count:
                print(f"  {done:>7} autorizadas: SefazClient {totals['client'][0] / max(totals['client'][1], 1e-9):6.1f}/s, "
                      f"httpx {totals['bare'][0] / max(totals['bare'][1], 1e-9):6.1f}/s, load {os.getloadavg()[0]:.1f}",
                      flush=True)
    client.close()
    bare.close()
    c, b = totals["client"], totals["bare"]
    if not c[0] or not b[0]:
        raise SystemExit("poucos documentos para os dois lados: aumente --authorise")
    return {"client_rate": c[0] / c[1], "bare_rate": b[0] / b[1], "client_cpu_ms": c[2] * 1000 / c[0],
            "bare_cpu_ms": b[2] * 1000 / b[0], "ratio_total": (c[0] / c[1]) / (b[0] / b[1]),
            "ratio_median": statistics.median(ratios) if ratios else (c[0] / c[1]) / (b[0] / b[1]),
            "documents": c[0] + b[0]}


def main(argv=None) -> int:
    args = parse_args(argv)
    import django

    django.setup()
    from agrega.fiscal.certificates import load
    from sefaz_sandbox.pki import make_a1
    from sefaz_sandbox.testing import SandboxProcess

    load_start = os.getloadavg()
    with SandboxProcess(args=["--latency-ms", str(args.latency_ms)]) as sandbox, \
            tempfile.NamedTemporaryFile(prefix="nfcom_emit_", suffix=".bin", dir=os.environ.get("AGREGA_VAR_DIR")) as tmp:
        a1 = make_a1(cnpj=CNPJ, razao="BENCH LTDA", password=PASSWORD, ca=sandbox.ca)
        cert = load(a1, PASSWORD)
        with open(tmp.name, "wb", buffering=1 << 20) as out:
            emit = emit_phase(args, cert, out)
        emit_rss = rss_mib()
        auth = None
        if args.authorise:
            block = max(args.concurrency * 4, min(args.block, 1000))
            auth = authorise_phase(args, sandbox, a1, tmp.name, args.authorise, block)
    peak = rss_mib()
    load_end = os.getloadavg()

    print(f"\nConstruir+validar+assinar ({args.documents} por lado, {emit['blocks']} blocos):")
    print(f"  Agrega {emit['agrega_rate']:.1f} docs/s ({emit['agrega_cpu_ms']:.2f} ms CPU/doc) vs bare "
          f"{emit['bare_rate']:.1f} docs/s ({emit['bare_cpu_ms']:.2f} ms CPU/doc)")
    print(f"  razão por docs/s: total {emit['ratio_total']:.2f}, mediana dos blocos {emit['ratio_median']:.2f} "
          f"(meta ≥ {EMIT_TARGET}); por CPU/doc: total {emit['cpu_ratio_total']:.2f}, mediana "
          f"{emit['cpu_ratio_median']:.2f}")
    print(f"  RSS máx. {emit_rss:.0f} MiB após a fase 1, {peak:.0f} MiB no fim (meta < {RSS_TARGET_MB} MB)")
    if auth:
        print(f"Autorizar ({auth['documents']} no sandbox, {args.latency_ms:.0f} ms, concorrência {args.concurrency}):")
        print(f"  SefazClient {auth['client_rate']:.1f}/s vs httpx puro {auth['bare_rate']:.1f}/s: razão total "
              f"{auth['ratio_total']:.2f}, mediana dos pares de blocos {auth['ratio_median']:.2f} (meta ≥ {AUTH_TARGET}); "
              f"CPU do cliente {auth['client_cpu_ms']:.2f} vs {auth['bare_cpu_ms']:.2f} ms/doc")
    print(f"load average: {load_start[0]:.1f} no início, {load_end[0]:.1f} no fim (2 núcleos compartilhados)")
    month = 1_000_000
    print(f"1.000.000 NFCom/mês: construir+assinar {month / emit['agrega_rate'] / 60:.0f} min neste ritmo "
          f"({emit['agrega_cpu_ms'] * month / 60_000:.0f} min de CPU; bare {month / emit['bare_rate'] / 60:.0f} min)"
          + (f"; autorizar {month / auth['client_rate'] / 3600:.1f} h contra este sandbox "
             f"(httpx puro {month / auth['bare_rate'] / 3600:.1f} h)" if auth else ""))
    met = emit["ratio_median"] >= EMIT_TARGET and peak < RSS_TARGET_MB and (auth is None or auth["ratio_median"] >= AUTH_TARGET)
    print(json.dumps({
        "bench": "nfcom_emit", "figure": round(emit["agrega_rate"], 1), "baseline": round(emit["bare_rate"], 1),
        "ratio": round(emit["ratio_median"], 3), "target": EMIT_TARGET, "verdict": "met" if met else "not met",
        "documents": args.documents, "cpu_ratio": round(emit["cpu_ratio_median"], 3),
        "peak_rss_mib": round(peak), "rss_target_mb": RSS_TARGET_MB,
        "authorise": None if auth is None else {
            "documents": auth["documents"], "figure": round(auth["client_rate"], 1),
            "baseline": round(auth["bare_rate"], 1), "ratio": round(auth["ratio_median"], 3), "target": AUTH_TARGET,
            "concurrency": args.concurrency, "latency_ms": args.latency_ms},
        "load": [round(load_start[0], 1), round(load_end[0], 1)],
    }, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
