"""Command line: one uvicorn process on a socket bound before it starts (port 0 allowed)."""

from __future__ import annotations

import argparse
import os
import socket
from typing import Sequence

import uvicorn

from exa_sandbox.faults import Faults
from exa_sandbox.server import FAULT_OPTIONS

from .app import WebhookApp
from .store import Store


def parse_account(text: str) -> tuple[str, list[str]]:
    name, _, secrets = text.partition(":")
    keys = [s for s in secrets.split(",") if s]
    if not name or not keys:
        raise argparse.ArgumentTypeError("use CONTA:SEGREDO[,SEGREDO_ANTERIOR]")
    return name, keys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m webhook_sandbox",
        description="Plataforma de testes que recebe os eventos do conector Webhook genérico do Agrega.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766, help="0 escolhe uma porta livre")
    parser.add_argument("--account", action="append", type=parse_account, default=[],
                        metavar="CONTA:SEGREDO[,SEGREDO_ANTERIOR]",
                        help="cadastra uma conta (URL: /hooks/CONTA); pode repetir")
    parser.add_argument("--packages", metavar="COD,COD2", help="pacotes aceitos pelas contas de --account")
    for name, kind, text in FAULT_OPTIONS:
        parser.add_argument("--" + name.replace("_", "-"), type=kind, help=text)
    parser.add_argument("--down", action="store_true", help="todo evento responde 503")
    parser.add_argument("--port-file", metavar="ARQUIVO")
    parser.add_argument("--data", metavar="ARQUIVO.json", help="aceito por compatibilidade; o estado fica em memória")
    parser.add_argument("--log-level", default="warning")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    store = Store()
    packages = [p.strip() for p in (args.packages or "").split(",") if p.strip()] or None
    for name, secrets in args.account:
        store.upsert_account(name, secrets, packages)
    faults = Faults()
    switches = {n: getattr(args, n) for n, _, _ in FAULT_OPTIONS if getattr(args, n) is not None}
    if args.down:
        switches["down"] = True
    if switches:
        faults.update(switches)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(
        WebhookApp(store, faults), http="httptools", lifespan="on", access_log=False,
        log_level=args.log_level, server_header=False, date_header=False, timeout_graceful_shutdown=3))
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as fh:
            fh.write(str(bound))
        os.replace(args.port_file + ".tmp", args.port_file)
    print(f"Sandbox Webhook ouvindo em http://{args.host}:{bound}/hooks/<conta>", flush=True)
    server.run(sockets=[sock])
    return 0
