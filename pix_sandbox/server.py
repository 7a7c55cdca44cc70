"""Command line and process set-up: one uvicorn process, optional TLS with client certs."""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import sys
from typing import Any, Sequence

import uvicorn

from .app import SandboxApp
from .faults import Faults
from .store import ApiError, Store, load_file
from .webhooks import Deliveries

FAULT_OPTIONS = (
    ("latency_ms", float, "atraso fixo de cada chamada da API Pix, em ms"),
    ("latency_jitter_ms", float, "variação aleatória (±) do atraso, em ms"),
    ("error_rate", float, "fração (0..1) de chamadas respondidas com 500/503/504"),
    ("throttle_rate", float, "fração (0..1) de chamadas respondidas com 429"),
    ("retry_after_seconds", int, "Retry-After enviado com os 429 de --throttle-rate"),
    ("rate_limit_rps", float, "limite de requisições por segundo por cliente (429 além dele)"),
    ("lost_response_rate", float, "fração (0..1) aplicada e sem resposta (conexão derrubada)"),
    ("webhook_lost_rate", float, "fração (0..1) de notificações nunca enviadas"),
    ("webhook_duplicate_rate", float, "fração (0..1) de notificações enviadas duas vezes"),
    ("webhook_delay_ms", float, "atraso de cada notificação, em ms"),
    ("webhook_reorder_ms", float, "atraso aleatório extra (0..x ms): notificações fora de ordem"),
    ("seed", int, "semente do sorteio de falhas"),
)


def parse_client(text: str) -> tuple[str, str, str | None]:
    client_id, client_secret, chave = (text.split(":", 2) + ["", ""])[:3]
    if not (client_id and client_secret):
        raise argparse.ArgumentTypeError("use CLIENT_ID:CLIENT_SECRET[:CHAVE]")
    return client_id, client_secret, chave or None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pix_sandbox",
        description="Sandbox HTTP de um PSP recebedor (API Pix 2.9.0 do Banco Central) para testes e demos.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766, help="0 escolhe uma porta livre")
    parser.add_argument("--data", metavar="ARQUIVO",
                        help="carrega o estado ao iniciar e salva (atômico, ~1 s e ao parar)")
    parser.add_argument("--client", action="append", type=parse_client, default=[],
                        metavar="CLIENT_ID:CLIENT_SECRET[:CHAVE]",
                        help="cadastra um usuário recebedor (pode repetir; chave aleatória se omitida)")
    parser.add_argument("--token-ttl", type=int, default=3600, metavar="SEGUNDOS",
                        help="validade dos tokens de acesso")
    parser.add_argument("--public-host", default=None,
                        help="host das locations (padrão: HOST:PORTA do sandbox)")
    parser.add_argument("--no-cobr-window", action="store_true",
                        help="aceita cobr com qualquer vencimento futuro (sem a janela de 2 a 10 dias)")
    parser.add_argument("--tls-cert", help="certificado do servidor (PEM): serve HTTPS")
    parser.add_argument("--tls-key", help="chave privada do certificado do servidor (PEM)")
    parser.add_argument("--client-ca", help="CA (PEM) dos certificados de cliente: exige mTLS")
    parser.add_argument("--webhook-cert", help="certificado de cliente (PEM) para chamar os webhooks")
    parser.add_argument("--webhook-key", help="chave do certificado de --webhook-cert")
    parser.add_argument("--webhook-ca", help="CA (PEM) que valida o servidor dos webhooks")
    parser.add_argument("--webhook-workers", type=int, default=4,
                        help="webhooks enviados ao mesmo tempo (padrão 4; um PSP real envia muitos)")
    for name, kind, text in FAULT_OPTIONS:
        parser.add_argument("--" + name.replace("_", "-"), type=kind, help=text)
    parser.add_argument("--port-file", metavar="ARQUIVO",
                        help="escreve a porta escolhida neste arquivo quando pronto para conexões")
    parser.add_argument("--log-level", default="warning")
    return parser


def serve(args: argparse.Namespace, faults: dict[str, Any]) -> None:
    """Build the state, bind the socket and run until SIGINT/SIGTERM."""
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]

    store = Store(token_ttl=args.token_ttl, public_host=args.public_host or f"{args.host}:{bound}")
    if args.data:
        load_file(store, args.data)
    for client_id, client_secret, chave in args.client:
        store.upsert_account(client_id, client_secret, chave)
    store.cobr_window = not args.no_cobr_window
    switches = Faults()
    if faults:
        switches.update(faults)
    cert = (args.webhook_cert, args.webhook_key) if args.webhook_cert else None
    deliveries = Deliveries(switches, workers=max(1, args.webhook_workers), cert=cert, ca=args.webhook_ca)
    app = SandboxApp(store, switches, deliveries=deliveries, data_path=args.data)

    tls: dict[str, Any] = {}
    if args.tls_cert:
        tls = {"ssl_certfile": args.tls_cert, "ssl_keyfile": args.tls_key}
        if args.client_ca:
            tls.update(ssl_ca_certs=args.client_ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
    config = uvicorn.Config(
        app, http="httptools", lifespan="on", access_log=False, log_level=args.log_level,
        server_header=False, date_header=False, timeout_keep_alive=30,
        timeout_graceful_shutdown=3, backlog=2048, **tls,
    )
    server = uvicorn.Server(config)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(bound))
        os.replace(tmp, args.port_file)
    scheme = "https" if args.tls_cert else "http"
    print(f"Sandbox PSP (API Pix) ouvindo em {scheme}://{args.host}:{bound}/api", flush=True)
    server.run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key) or (args.client_ca and not args.tls_cert):
        print("Use --tls-cert com --tls-key (e --client-ca só com TLS).", file=sys.stderr)
        return 2
    faults = {name: getattr(args, name) for name, _, _ in FAULT_OPTIONS
              if getattr(args, name) is not None}
    try:
        serve(args, faults)
    except ApiError as exc:
        print(f"Configuração inválida: {exc.detail} {exc.violacoes or ''}", file=sys.stderr)
        return 2
    return 0
