"""HTTPS with mutual TLS, one thread per connection, and the admin API.

Every connection must present a client certificate issued by the sandbox's CA (the TLS
handshake fails otherwise, as at the SEFAZ). The TLS handshake runs in the connection's
own thread, so a slow or hostile client never blocks the accept loop.

``/WS/...`` are the SOAP services (app.py). ``/_sandbox/...`` is the admin API for
tests and demos — JSON, never faulted, on the same mTLS listener (the test helper holds
a client certificate from the same CA):

* ``GET /_sandbox/health``; ``GET|POST|DELETE /_sandbox/faults``;
* ``GET /_sandbox/documents`` (summaries), ``GET /_sandbox/documents/<chave>`` (with XML);
* ``GET /_sandbox/log`` (the last requests: service, key, cStat); ``POST /_sandbox/reset``.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Sequence

from cryptography import x509

from .app import MAX_BODY, Options, SefazApp
from .faults import FaultError, Faults
from .pki import Pki
from .store import Store

log = logging.getLogger("sefaz_sandbox")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle keep-alive connection is closed after this (seconds)
    server: "SandboxServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        log.debug("%s " + format, self.address_string(), *args)

    def _client_cert(self) -> x509.Certificate | None:
        der = self.connection.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der) if der else None

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(413, b"Corpo grande demais.\n", "text/plain; charset=utf-8")
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        body = self._body()
        if body is None:
            return
        if self.path.startswith("/_sandbox/"):
            return self._admin("POST", body)
        answer = self.server.app.handle(self.path, body, self._client_cert())
        if answer.hang:
            self.server.faults.release.wait(answer.hang)
        if answer.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._send(answer.status, answer.body, answer.content_type)

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/_sandbox/"):
            return self._admin("GET", b"")
        self._send(404, b"Use POST com um envelope SOAP 1.2.\n", "text/plain; charset=utf-8")

    def do_DELETE(self) -> None:  # noqa: N802
        if self.path.startswith("/_sandbox/"):
            return self._admin("DELETE", b"")
        self._send(405, b"", "text/plain")

    def _admin(self, method: str, body: bytes) -> None:
        app, store, faults = self.server.app, self.server.app.store, self.server.faults
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/_sandbox/health":
            return self._json(200, {"status": "ok"})
        if path == "/_sandbox/faults":
            if method == "POST":
                try:
                    changes = json.loads(body or b"{}")
                    if not isinstance(changes, dict):
                        raise ValueError
                    faults.update(changes)
                except FaultError as exc:
                    return self._json(422, {"error": str(exc), "fields": exc.errors})
                except ValueError:
                    return self._json(400, {"error": "JSON inválido."})
            elif method == "DELETE":
                faults.clear()
            return self._json(200, faults.as_dict())
        if path == "/_sandbox/documents" and method == "GET":
            with store.lock:
                docs = [store.summary(d) for d in store.documents.values()]
            return self._json(200, {"documents": docs})
        if path.startswith("/_sandbox/documents/") and method == "GET":
            record = store.get(path.rsplit("/", 1)[1])
            if record is None:
                return self._json(404, {"error": "NFCom não consta."})
            return self._json(200, record)
        if path == "/_sandbox/log" and method == "GET":
            with store.lock:
                return self._json(200, {"log": list(store.log)})
        if path == "/_sandbox/reset" and method == "POST":
            store.reset()
            faults.clear()
            return self._json(200, {"reset": True})
        if path == "/_sandbox/options":
            if method == "POST":
                try:
                    changes = json.loads(body or b"{}")
                    for name, value in changes.items():
                        if name not in vars(app.options) or isinstance(value, bool) or not isinstance(value, int):
                            raise ValueError(name)
                        setattr(app.options, name, value)
                except (ValueError, AttributeError):
                    return self._json(422, {"error": "Opção inválida."})
            return self._json(200, vars(app.options))
        return self._json(404, {"error": "Recurso não encontrado."})


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: SefazApp, faults: Faults, context: ssl.SSLContext):
        self.app, self.faults, self.context = app, faults, context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address) -> None:  # runs in the connection's thread
        try:
            request.settimeout(30)
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.info("handshake recusado de %s: %s", client_address[0], exc)
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, ConnectionError, OSError) as exc:
            log.debug("conexão encerrada: %s", exc)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        log.exception("erro ao atender %s", client_address)


def tls_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.server_cert_path, pki.server_key_path)
    context.load_verify_locations(pki.ca_path)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sefaz_sandbox",
        description="Sandbox da SEFAZ (NFCom, homologação) com mTLS para testes e demos.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 escolhe uma porta livre")
    parser.add_argument("--pki", required=True, metavar="DIR",
                        help="diretório da AC de teste e do certificado do servidor (criados se faltarem)")
    parser.add_argument("--data", metavar="ARQUIVO.json", help="carrega e salva o estado neste arquivo")
    parser.add_argument("--port-file", metavar="ARQUIVO", help="escreve a porta quando pronto")
    parser.add_argument("--latency-ms", type=float, help="atraso de cada chamada SOAP")
    parser.add_argument("--paralisado", choices=("108", "109"), help="começa com o serviço paralisado")
    parser.add_argument("--max-age-days", type=int, default=30, help="dhEmi mais antigo aceito (228)")
    parser.add_argument("--cancel-hours", type=int, default=120, help="horas após o fim do mês da autorização para cancelar (220)")
    parser.add_argument("--log-level", default="warning")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    pki = Pki(args.pki)
    faults = Faults()
    if args.latency_ms is not None:
        faults.update({"latency_ms": args.latency_ms})
    if args.paralisado:
        faults.update({"paralisado": args.paralisado})
    store = Store(args.data)
    app = SefazApp(store, faults, pki.ca.cert,
                   Options(max_age_days=args.max_age_days, cancel_hours=args.cancel_hours))
    server = SandboxServer((args.host, args.port), app, faults, tls_context(pki))
    port = server.server_address[1]

    def stop(*_: Any) -> None:
        faults.release.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as fh:
            fh.write(str(port))
        import os

        os.replace(args.port_file + ".tmp", args.port_file)
    if args.data:
        store.flush_every(1.0, faults.release)
    print(f"Sandbox SEFAZ (NFCom) ouvindo em https://{args.host}:{port} — AC: {pki.ca_path}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        store.flush()
    return 0
