"""Command line and process set-up: one uvicorn process, httptools, no access log."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any, Sequence

import uvicorn

from .app import SandboxApp
from .faults import Faults
from .store import DEFAULT_PACKAGES, ApiError, Store, load_file

FAULT_OPTIONS = (
    ("latency_ms", float, "atraso fixo de cada chamada de parceiro, em ms"),
    ("latency_jitter_ms", float, "variação aleatória (±) do atraso, em ms"),
    ("error_rate", float, "fração (0..1) de chamadas respondidas com 500/502/503"),
    ("rate_limit_rps", float, "limite de requisições por segundo por parceiro (429)"),
    ("throttle_rate", float, "fração (0..1) de chamadas respondidas com 429"),
    ("retry_after_seconds", int, "Retry-After enviado com os 429 de --throttle-rate"),
    ("timeout_rate", float, "fração (0..1) que trava --hang-seconds, não aplica e responde 504"),
    ("lost_response_rate", float, "fração (0..1) que aplica e trava antes de responder"),
    ("hang_seconds", float, "quanto dura uma trava (padrão 30)"),
    ("seed", int, "semente do sorteio de falhas"),
)


def parse_packages(text: str) -> list[dict[str, str]]:
    """``CODE:Name,CODE2:Name2`` → package dicts (the name defaults to the code)."""
    packages = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        code, _, name = item.partition(":")
        packages.append({"code": code.strip(), "name": name.strip() or code.strip(),
                         "description": ""})
    return packages


def parse_partner(text: str) -> tuple[str, str, str]:
    prefix, client_id, client_secret = (text.split(":", 2) + ["", ""])[:3]
    if not (prefix and client_id and client_secret):
        raise argparse.ArgumentTypeError("use PREFIXO:CLIENT_ID:CLIENT_SECRET")
    return prefix, client_id, client_secret


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m exa_sandbox",
        description="Sandbox HTTP da plataforma EXA (SVA de segurança digital) para testes e demos.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 escolhe uma porta livre")
    parser.add_argument("--data", metavar="ARQUIVO.json",
                        help="carrega o estado ao iniciar e salva (atômico, ~1 s e ao parar)")
    parser.add_argument("--load", metavar="ARQUIVO.json",
                        help="carrega o estado deste arquivo ao iniciar e nunca o salva (sementes "
                        "grandes para benchmarks: mesmo formato de --data)")
    parser.add_argument("--partner", action="append", type=parse_partner, default=[],
                        metavar="PREFIXO:CLIENT_ID:CLIENT_SECRET",
                        help="cadastra um parceiro (pode repetir)")
    parser.add_argument("--packages", type=parse_packages, metavar="COD:Nome,COD2:Nome2",
                        help="pacotes dos parceiros de --partner (padrão: três pacotes EXA)")
    parser.add_argument("--token-ttl", type=int, default=3600, metavar="SEGUNDOS",
                        help="validade dos tokens de acesso")
    for name, kind, text in FAULT_OPTIONS:
        parser.add_argument("--" + name.replace("_", "-"), type=kind, help=text)
    parser.add_argument("--down", action="store_true", help="toda chamada de parceiro responde 503")
    parser.add_argument("--port-file", metavar="ARQUIVO",
                        help="escreve a porta escolhida neste arquivo quando pronto para conexões")
    parser.add_argument("--log-level", default="warning")
    return parser


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    data_path: str | None = None,
    load_path: str | None = None,
    partners: Sequence[tuple[str, str, str]] = (),
    packages: list[dict[str, str]] | None = None,
    faults: dict[str, Any] | None = None,
    token_ttl: int = 3600,
    port_file: str | None = None,
    log_level: str = "warning",
) -> None:
    """Build the state, bind the socket and run until SIGINT/SIGTERM."""
    store = Store(token_ttl=token_ttl)
    if load_path and not load_file(store, load_path):
        raise ApiError(422, "invalid_fields", f"Arquivo não encontrado: {load_path}.")
    if data_path:
        load_file(store, data_path)
    for prefix, client_id, client_secret in partners:
        store.upsert_partner(
            prefix, client_id, client_secret,
            packages if packages is not None else [dict(p) for p in DEFAULT_PACKAGES],
        )
    fault_switches = Faults()
    if faults:
        fault_switches.update(faults)
    app = SandboxApp(store, fault_switches, data_path=data_path)

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    bound = sock.getsockname()[1]

    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:  # pragma: no cover - uvicorn[standard] ships it
        loop = "asyncio"
    config = uvicorn.Config(
        app,
        http="httptools",
        loop=loop,
        lifespan="on",
        access_log=False,
        log_level=log_level,
        server_header=False,
        date_header=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=3,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(bound))
        os.replace(tmp, port_file)
    display = f"[{host}]" if ":" in host else host
    print(f"Sandbox EXA ouvindo em http://{display}:{bound}", flush=True)
    server.run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    faults = {name: getattr(args, name) for name, _, _ in FAULT_OPTIONS
              if getattr(args, name) is not None}
    if args.down:
        faults["down"] = True
    try:
        serve(
            args.host,
            args.port,
            data_path=args.data,
            load_path=args.load,
            partners=args.partner,
            packages=args.packages,
            faults=faults,
            token_ttl=args.token_ttl,
            port_file=args.port_file,
            log_level=args.log_level,
        )
    except ApiError as exc:
        print(f"Configuração inválida: {exc.message} {exc.fields or ''}", file=sys.stderr)
        return 2
    return 0
