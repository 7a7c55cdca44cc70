"""NFCom authorisation through SefazClient vs a bare httpx loop, against the same SEFAZ
sandbox (mTLS, 100 ms latency by default), at the same concurrency, in one run.

Both loops send distinct, signed NFComs (built beforehand: signing is not measured here,
see bench/nfcom_emit for building and signing) to NFComRecepcao and read the answer.
The client loop is ``SefazClient.autorizar`` (GZip+Base64, SOAP 1.2 with lxml, parsing
the answer into an Authorisation with the nfcomProc); the bare loop posts a formatted
envelope with httpx and only checks for ``<cStat>100``. Prints documents/s of each
(medians of the rounds), the ratio client ÷ bare, and the extrapolation to 1,000,000
documents a month.

    ./run bench sefaz_authorise --documents 1000 --concurrency 32 --rounds 3 --latency-ms 100
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=1000, help="per loop and round")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    return parser.parse_args()


BARE = ('<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope">'
        '<soap:Body><nfcomDadosMsg xmlns="http://www.portalfiscal.inf.br/nfcom/wsdl/NFComRecepcao">{}'
        '</nfcomDadosMsg></soap:Body></soap:Envelope>')


def main() -> int:
    args = parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
    os.environ.setdefault("AGREGA_EGRESS_ALLOW", "127.0.0.1/32")
    os.environ.setdefault("AGREGA_SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdef")
    os.environ.setdefault("AGREGA_CREDENTIALS_KEY", "YmVuY2gtY3JlZGVudGlhbHMta2V5LTMyYnl0ZXMhIQ==")
    import django

    django.setup()
    import httpx

    from agrega.fiscal.sefaz.client import SefazClient
    from sefaz_sandbox.pki import make_a1
    from sefaz_sandbox.testing import SandboxProcess, client_context
    from tests.sefaz.nfcom_docs import nfcom

    cnpj, password = "11222333000181", "bench"
    with SandboxProcess(args=["--latency-ms", str(args.latency_ms)]) as sandbox:
        a1 = make_a1(cnpj=cnpj, razao="BENCH", password=password, ca=sandbox.ca)
        total = 2 * args.documents * args.rounds
        print(f"Assinando {total} NFCom…", flush=True)
        started = time.perf_counter()
        docs = [nfcom(a1=a1, password=password, cnpj=cnpj, nnf=i + 1)[1] for i in range(total)]
        print(f"  {total / (time.perf_counter() - started):.0f} documentos/s (fora da medição)", flush=True)

        client = SefazClient(url=sandbox.url, pkcs12=a1, password=password, timeout=60,
                             ca_bundle=sandbox.ca_path)
        context = client_context(sandbox.ca_path, a1, password, str(sandbox.pki.dir))
        bare = httpx.Client(verify=context, timeout=60, trust_env=False,
                            limits=httpx.Limits(max_connections=args.concurrency))
        url = sandbox.url + "/WS/NFComRecepcao/NFComRecepcao.asmx"

        def with_client(xml: bytes) -> bool:
            return client.autorizar(xml).authorised

        def with_bare(xml: bytes) -> bool:
            payload = base64.b64encode(gzip.compress(xml, mtime=0)).decode()
            response = bare.post(url, content=BARE.format(payload).encode(),
                                 headers={"Content-Type": "application/soap+xml; charset=utf-8"})
            return response.status_code == 200 and b"<cStat>100</cStat>" in response.content

        def run(fn, batch) -> float:
            with ThreadPoolExecutor(args.concurrency) as pool:
                start = time.perf_counter()
                ok = sum(pool.map(fn, batch))
                elapsed = time.perf_counter() - start
            assert ok == len(batch), f"{len(batch) - ok} não autorizadas"
            return len(batch) / elapsed

        rates: dict[str, list[float]] = {"client": [], "bare": []}
        cursor = 0
        for round_no in range(args.rounds):
            order = ("client", "bare") if round_no % 2 == 0 else ("bare", "client")
            for name in order:
                batch = docs[cursor:cursor + args.documents]
                cursor += args.documents
                cpu = time.process_time()
                rate = run(with_client if name == "client" else with_bare, batch)
                cpu_ms = (time.process_time() - cpu) * 1000 / len(batch)
                rates[name].append(rate)
                print(f"  rodada {round_no + 1} {name:6}: {rate:7.1f} documentos/s, CPU do cliente "
                      f"{cpu_ms:.2f} ms/documento", flush=True)
        client.close()
        bare.close()
    c, b = statistics.median(rates["client"]), statistics.median(rates["bare"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nSefazClient {c:.1f} doc/s vs httpx puro {b:.1f} doc/s → razão {c / b:.2f} "
          f"(concorrência {args.concurrency}, latência {args.latency_ms:.0f} ms; meta ≥ 0,80)")
    print(f"1.000.000 documentos/mês a {c:.1f} doc/s: {1_000_000 / c / 3600:.1f} h de envio; RSS máx. {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
