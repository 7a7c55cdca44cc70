"""NFCom authorisation through SefazClient vs a bare httpx loop, against the same SEFAZ
sandbox (mTLS, 100 ms latency by default), at the same concurrency, in one run.

The documents (distinct, signed, two items with IBS/CBS — ``bench/nfcom_emit``'s factory)
are built and signed first, outside the measurement, into a temporary file, and read
back block by block, so memory stays bounded at 100,000. Blocks alternate between
``SefazClient.autorizar`` (GZip+Base64, SOAP 1.2 with lxml, the answer parsed into an
Authorisation with its nfcomProc) and a bare httpx client posting a formatted envelope
and looking for ``<cStat>100``; each document is sent once and must come back
authorised. Prints documents/s of each (totals and the median of the per-pair ratios,
target ≥ 0.8), the extrapolation to 1,000,000 documents a month, and a last line of JSON.
bench/nfcom_emit runs this same phase after its build/sign phase.

    ./run bench sefaz_authorise --quick
    ./run bench sefaz_authorise --documents 100000 --concurrency 16
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import nfcom_emit  # noqa: E402  (bench/nfcom_emit.py: the factory and the authorisation phase)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--documents", type=int, default=2000, help="documents in all (half per side)")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--block", type=int, default=0, help="documents per block (default: 4 × concurrency, ≤ 1000)")
    p.add_argument("--quick", action="store_true", help="400 documents")
    args = p.parse_args(argv)
    if args.quick:
        args.documents = 400
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import django

    django.setup()
    from agrega.fiscal import signing
    from agrega.fiscal.certificates import load
    from sefaz_sandbox.pki import make_a1
    from sefaz_sandbox.testing import SandboxProcess

    load_start = os.getloadavg()
    with SandboxProcess(args=["--latency-ms", str(args.latency_ms)]) as sandbox, \
            tempfile.NamedTemporaryFile(prefix="sefaz_authorise_", suffix=".bin",
                                        dir=os.environ.get("AGREGA_VAR_DIR")) as tmp:
        a1 = make_a1(cnpj=nfcom_emit.CNPJ, razao="BENCH LTDA", password=nfcom_emit.PASSWORD, ca=sandbox.ca)
        cert = load(a1, nfcom_emit.PASSWORD)
        factory = nfcom_emit.Factory(cert)
        started = time.perf_counter()
        with open(tmp.name, "wb", buffering=1 << 20) as out:
            for n in range(1, args.documents + 1):
                signed = signing.sign_enveloped(factory.build.build(factory.draft(n))[0], certificate=cert)
                out.write(struct.pack(">I", len(signed)) + signed)
        print(f"{args.documents} NFCom assinadas em {time.perf_counter() - started:.0f} s (fora da medição)", flush=True)
        block = args.block or max(args.concurrency * 4, min(1000, args.documents // 10 or 1))
        auth = nfcom_emit.authorise_phase(args, sandbox, a1, tmp.name, args.documents, block)
    load_end = os.getloadavg()
    peak = nfcom_emit.rss_mib()
    print(f"\nSefazClient {auth['client_rate']:.1f} doc/s vs httpx puro {auth['bare_rate']:.1f} doc/s → razão total "
          f"{auth['ratio_total']:.2f}, mediana dos pares de blocos {auth['ratio_median']:.2f} (concorrência "
          f"{args.concurrency}, latência {args.latency_ms:.0f} ms; meta ≥ 0,80); CPU do cliente "
          f"{auth['client_cpu_ms']:.2f} vs {auth['bare_cpu_ms']:.2f} ms/doc")
    print(f"load average: {load_start[0]:.1f} no início, {load_end[0]:.1f} no fim; RSS máx. {peak:.0f} MiB")
    print(f"1.000.000 documentos/mês a {auth['client_rate']:.1f} doc/s: {1_000_000 / auth['client_rate'] / 3600:.1f} h "
          f"de envio contra este sandbox (httpx puro {1_000_000 / auth['bare_rate'] / 3600:.1f} h)")
    met = auth["ratio_median"] >= nfcom_emit.AUTH_TARGET
    print(json.dumps({"bench": "sefaz_authorise", "figure": round(auth["client_rate"], 1),
                      "baseline": round(auth["bare_rate"], 1), "ratio": round(auth["ratio_median"], 3),
                      "target": nfcom_emit.AUTH_TARGET, "verdict": "met" if met else "not met",
                      "documents": auth["documents"], "concurrency": args.concurrency,
                      "latency_ms": args.latency_ms, "peak_rss_mib": round(peak),
                      "load": [round(load_start[0], 1), round(load_end[0], 1)]}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
