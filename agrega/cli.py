"""``agrega``: the console script.

``agrega demo`` starts everything on one machine (SQLite, the SVA platform's, SEFAZ and PSP sandboxes,
SVA worker, web, task worker); ``agrega worker``, ``agrega web``, ``agrega <platform>-sandbox``
(the sandbox of any connector that ships one, found through the registry),
``agrega sefaz-sandbox`` and ``agrega pix-sandbox`` start one part each; any
other word is a Django management command (``agrega migrate``, ``agrega contract …``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
    import django

    django.setup()


def _wait_http(url: str, seconds: float = 20.0) -> bool:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return True
        except httpx.HTTPError:
            time.sleep(0.2)
    return False


class _Stop(BaseException):
    """SIGTERM or SIGINT reached the demo: stop its children and leave (a BaseException,
    like KeyboardInterrupt, so no `except Exception` on the way swallows it)."""


def _raise_stop(signum, frame):
    raise _Stop(signum)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Each child leads its own process group (gunicorn's workers are in it too)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_children(procs: list[subprocess.Popen], seconds: float = 10.0) -> None:
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
    for proc in procs:  # anything its leader left behind in the group
        _signal_group(proc, signal.SIGKILL)


def demo(argv: list[str]) -> int:
    """The whole demo as one service: SIGTERM or SIGINT (Ctrl+C) stops the sandbox, the
    worker and the web (each in its own process group, so nothing is left behind)."""
    from agrega.core.management.base import PortugueseCommandParser, PortugueseHelpFormatter

    # the commands' parser: help and errors in Portuguese, as every other agrega command
    parser = PortugueseCommandParser(prog="agrega demo", description="Demo completa numa máquina.",
                                     called_from_command_line=True, formatter_class=PortugueseHelpFormatter,
                                     add_help=False)
    parser.add_argument("-h", "--help", action="help", help="mostra esta ajuda e sai")
    parser.add_argument("--host", default="127.0.0.1", help="endereço onde tudo escuta (padrão 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="porta da web (padrão 8000)")
    parser.add_argument("--sandbox-port", type=int, default=8765, help="porta do sandbox da plataforma SVA (padrão 8765)")
    parser.add_argument("--sefaz-port", type=int, default=8443, help="porta do sandbox da SEFAZ (padrão 8443)")
    parser.add_argument("--pix-sandbox-port", type=int, default=8766, help="porta do PSP sandbox PIX (padrão 8766)")
    parser.add_argument("--check", action="store_true", help="sobe tudo, verifica e encerra")
    args = parser.parse_args(argv)
    # The demo's SVA platform, SEFAZ and PSP sandboxes are on this machine: allow exactly them (here
    # and in the worker and web children); the egress policy stays strict for every other
    # local address.
    sandbox_egress = f"{args.host}:{args.sandbox_port},{args.host}:{args.sefaz_port}"
    pix_egress = f"{args.host}:{args.pix_sandbox_port}"
    os.environ["AGREGA_EGRESS_ALLOW"] = ",".join(
        e for e in (os.environ.get("AGREGA_EGRESS_ALLOW", ""), sandbox_egress, pix_egress) if e)

    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    procs: list[subprocess.Popen] = []
    try:
        return _run_demo(args, procs)
    except (_Stop, KeyboardInterrupt):
        print("\n» Encerrando a demo…", flush=True)
        return 0
    finally:
        for sig in previous:  # a second signal must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        _stop_children(procs)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_demo(args, procs: list[subprocess.Popen]) -> int:
    from agrega.core.keys import demo_secrets

    var_dir = Path(os.environ.get("AGREGA_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
    # The demo's own keys (var/demo-secrets.env, mode 600, reused next time): Agrega refuses
    # development secrets (core/keys.py), and the payment webhook is on with its secret.
    for name, value in demo_secrets(var_dir).items():
        os.environ.setdefault(name, value)
    _django_setup()
    from django.conf import settings
    from django.core.management import call_command

    Path(settings.VAR_DIR).mkdir(parents=True, exist_ok=True)
    sandbox_url = f"http://{args.host}:{args.sandbox_port}"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # the demo's SVA platform is the default one, run by its connector's sandbox kit
    from agrega.integrations.connectors.registry import connector_class, default_platform, demo_kit

    platform = default_platform()
    kit, label = demo_kit(platform), connector_class(platform).label

    def start(*cmd: str) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-m", *cmd], env=env, start_new_session=True)
        procs.append(proc)
        return proc

    print("» Preparando o banco de dados…", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    print(f"» Sandbox {label} em {sandbox_url}", flush=True)
    start(*kit.server_args(args.host, args.sandbox_port, str(Path(settings.VAR_DIR) / f"{platform}-sandbox.json")))
    if not _wait_http(sandbox_url + kit.health_path):
        print(f"O sandbox {label} não respondeu.", file=sys.stderr)
        return 1
    sefaz_url = _start_sefaz_sandbox(args, start, Path(settings.VAR_DIR))
    if not sefaz_url:
        print("O sandbox da SEFAZ não respondeu.", file=sys.stderr)
        return 1
    env.update({name: os.environ[name] for name in ("AGREGA_SEFAZ_SANDBOX_URL", "AGREGA_SEFAZ_SANDBOX_PKI")})
    call_command("seed_demo", sandbox_url=sandbox_url)
    # NFCom of this month's títulos, authorised by the SEFAZ sandbox (agrega/fiscal)
    call_command("seed_fiscal", sefaz_url=sefaz_url, pki_dir=os.environ["AGREGA_SEFAZ_SANDBOX_PKI"])
    print("» Worker SVA", flush=True)
    # the task worker (imports, campaigns, billing runs, periodic jobs) is started on its
    # own below, once the web answers: on a small machine three Django processes booting
    # at once slowed the web's first answer past its deadline
    start("agrega.cli", "worker", "--no-tasks")
    web_url = f"http://{args.host}:{args.port}"
    print(f"» Web em {web_url}", flush=True)
    start("agrega.cli", "web", "--bind", f"{args.host}:{args.port}")
    if not _wait_http(web_url + "/api/openapi.json", 30):
        print("O servidor web não respondeu.", file=sys.stderr)
        return 1
    print("» Worker de tarefas", flush=True)
    start("agrega.cli", "tasks", "worker")
    pix_url = f"http://{args.host}:{args.pix_sandbox_port}"
    print(f"» PSP sandbox (API Pix) em {pix_url}", flush=True)
    # persisted like the SVA platform's sandbox: a restarted demo keeps the cobranças Agrega knows
    start("pix_sandbox", "--host", args.host, "--port", str(args.pix_sandbox_port),
          "--data", str(Path(settings.VAR_DIR) / "pix-sandbox.json"))
    if not _wait_http(pix_url + "/_sandbox/health"):
        print("O PSP sandbox não respondeu.", file=sys.stderr)
        return 1
    pix_lines = _setup_pix_demo(pix_url, web_url, label)
    var_shown = _shown_path(Path(settings.VAR_DIR))
    sandbox_line = f"  Sandbox {label}:".ljust(23) + f"{sandbox_url}/\n"
    print(
        "\n"
        "Agrega está no ar.\n"
        f"  API (documentação):  {web_url}/api/docs\n"
        f"  Administração:       {web_url}/admin/\n"
        + sandbox_line +
        f"  SEFAZ sandbox (NFCom, mTLS): {sefaz_url}  AC de teste: {var_shown}/sefaz-pki/ca.pem\n"
        "  Logins (senha agrega-demo): admin (administrador), operador (operador),\n"
        "                      leitura (somente leitura)\n"
        f"  Token de API:        veja {var_shown}/demo-token.txt\n"
        f"  Webhook de pagamentos: {web_url}/api/payments/webhook\n"
        f"    segredo (HMAC):    {os.environ['AGREGA_PAYMENT_WEBHOOK_SECRET']}\n"
        "    (provedor \"webhook\"; assine \"<X-Agrega-Timestamp>.<corpo>\", veja docs/payments.md)\n"
        f"  Chaves da demo:      {var_shown}/demo-secrets.env\n"
        + pix_lines +
        "Ctrl+C encerra.\n",
        flush=True,
    )
    if args.check:
        return 0 if _check_demo_converged(sandbox_url, kit, label) else 1
    while all(p.poll() is None for p in procs):
        time.sleep(0.5)
    print("Um dos processos da demo parou; encerrando os outros.", file=sys.stderr)
    return 1


def _shown_path(path: Path) -> str:
    """The var folder as the user can type it: relative to where they started the demo when it
    is inside it (``var``), absolute otherwise (AGREGA_VAR_DIR elsewhere)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def _start_sefaz_sandbox(args, start, var_dir: Path) -> str | None:
    """Start the SEFAZ sandbox (NFCom, homologação) with the demo's own test CA in
    var/sefaz-pki (kept: A1 certificates issued from it keep working) and its documents
    in var/sefaz-sandbox.json. Its URL and PKI directory go to the children in
    AGREGA_SEFAZ_SANDBOX_URL / AGREGA_SEFAZ_SANDBOX_PKI (docs/sefaz-sandbox.md)."""
    pki_dir = var_dir / "sefaz-pki"
    port_file = var_dir / "sefaz-sandbox.port"
    port_file.unlink(missing_ok=True)
    url = f"https://{args.host}:{args.sefaz_port}"
    print(f"» SEFAZ sandbox em {url}", flush=True)
    proc = start("sefaz_sandbox", "--host", args.host, "--port", str(args.sefaz_port), "--pki", str(pki_dir),
                 "--data", str(var_dir / "sefaz-sandbox.json"), "--port-file", str(port_file))
    deadline = time.monotonic() + 20
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    os.environ["AGREGA_SEFAZ_SANDBOX_URL"] = url
    os.environ["AGREGA_SEFAZ_SANDBOX_PKI"] = str(pki_dir)
    return url


DEMO_PIX_CLIENT = ("agrega-demo", "agrega-demo-secret", "pix@provedor-demo.example")


def _setup_pix_demo(pix_url: str, web_url: str, label: str) -> str:
    """The demo's PSP account on the sandbox, its webhook, a cobv for every open título,
    one Pix Automático authorisation; returns how to "pay" a título from the sandbox.

    Each step that talks to the PSP may fail for a reason of the PSP or the network
    (``httpx.HTTPError``, ``PixError``, or a service's ``ApplicationError`` that wraps
    one): the banner then says which step failed and why, in Portuguese, and the demo
    goes on without it. Any other exception is a bug and is not caught here."""
    import httpx

    from agrega.billing.models import Invoice
    from agrega.contracts.choices import AccessStatus, ContractStatus
    from agrega.contracts.models import Contract
    from agrega.core.errors import ApplicationError
    from agrega.pix import recurrence, services
    from agrega.pix.client import PixError
    from agrega.pix.models import ChargeStatus, PixAccount, PixCharge, PixRecurrence

    expected = (httpx.HTTPError, PixError, ApplicationError)
    failures: list[str] = []

    def failed(step: str, exc: Exception) -> None:
        if isinstance(exc, httpx.HTTPStatusError):
            reason = f"o PSP sandbox respondeu HTTP {exc.response.status_code}"
        elif isinstance(exc, httpx.HTTPError):
            reason = f"o PSP sandbox não respondeu ({type(exc).__name__})"
        else:
            reason = getattr(exc, "message", "") or str(exc) or type(exc).__name__
        failures.append(f"  PIX: falhou ao {step}: {reason}")
        print(f"PIX da demo: falhou ao {step}: {reason}", file=sys.stderr, flush=True)

    client_id, secret, chave = DEMO_PIX_CLIENT
    try:
        httpx.post(f"{pix_url}/_sandbox/accounts", json={"client_id": client_id, "client_secret": secret,
                                                         "chave": chave, "nome": "Provedor Demo"},
                   timeout=10).raise_for_status()
    except httpx.HTTPError as exc:
        failed("criar a conta do provedor no PSP sandbox", exc)
        return "\n".join(failures) + "\n"
    account = PixAccount.objects.filter(client_id=client_id).first() or services.account_create(
        name="PSP sandbox (demo)", base_url=pix_url + "/api", client_id=client_id, client_secret=secret, chave=chave)
    try:
        services.account_register_webhook(account_id=account.pk, public_url=web_url)
    except expected as exc:
        failed("registrar o webhook no PSP", exc)
    try:
        queued = services.charges_for_open_invoices(account_id=account.pk)
    except expected as exc:
        failed("pedir as cobranças PIX dos títulos em aberto", exc)
        queued = 0
    # the cobranças are created by the task worker (started above): wait for them, so
    # the banner can name a título that is ready to be paid
    deadline = time.monotonic() + 60
    while (PixCharge.objects.exclude(status=ChargeStatus.PENDING).count() < queued
           and time.monotonic() < deadline):
        time.sleep(0.5)
    pending = PixCharge.objects.filter(status=ChargeStatus.PENDING).count()
    if pending:
        failures.append(f"  PIX: {pending} cobrança(s) ainda não criada(s) no PSP após 60 s "
                        "(o worker de tarefas segue tentando; veja a aba Financeiro do contrato).")
    errors = PixCharge.objects.filter(status=ChargeStatus.ERROR).exclude(last_error="")
    if errors.exists():
        first = errors.order_by("pk").first()
        failures.append(f"  PIX: {errors.count()} cobrança(s) recusada(s) pelo PSP; a primeira "
                        f"(título {first.invoice_id}): {first.last_error}")
    rec = PixRecurrence.objects.order_by("pk").first()
    if rec is None:
        contract = Contract.objects.filter(status=ContractStatus.ACTIVE).order_by("pk").first()
        if contract is None:
            failures.append("  PIX: nenhum contrato ativo para o Pix Automático da demo.")
        else:
            try:
                rec = recurrence.recurrence_start(contract_id=contract.pk)
            except expected as exc:
                failed(f"iniciar o Pix Automático do contrato {contract.pk}", exc)
    # the título to pay: one that suspended its contract (the régua's late payer), so
    # that paying it shows the release and the unblock; else any open one
    payable = Invoice.objects.filter(status="open", pix_charges__status="active").order_by("due_date", "pk")
    overdue = (payable.filter(contract__access_status__in=[AccessStatus.OVERDUE, AccessStatus.AUTOMATIC_BLOCK])
               .first() or payable.first())
    lines = [f"  PSP sandbox (PIX):   {pix_url}/  — conta “{account.name}”, webhook em {web_url}/pix/webhook/…"]
    if rec is not None and rec.id_rec:
        lines.append(f"  Pix Automático:      contrato {rec.contract_id}, idRec {rec.id_rec} "
                     f"({rec.get_status_display()})")
    if overdue is not None:
        txid = PixCharge.objects.get(invoice=overdue, status=ChargeStatus.ACTIVE).txid
        lines += [f"  Pagar o título {overdue.pk} (contrato {overdue.contract_id}) pelo PIX do sandbox:",
                  f"    curl -X POST {pix_url}/_sandbox/pay -H 'Content-Type: application/json' \\",
                  f"         -d '{{\"txid\": \"{txid}\", \"client_id\": \"{client_id}\"}}'",
                  f"    → webhook → baixa → contrato liberado → usuário SVA desbloqueado na {label} em segundos."]
    return "\n".join(lines + failures) + "\n"


def _check_demo_converged(sandbox_url: str, kit, label: str, seconds: float = 60.0) -> bool:
    """Wait until the worker has converged every demo SVA user; compare with the sandbox
    (its users as the platform's ``DemoKit`` reads them)."""
    from agrega.sva.models import SvaPendingWork
    from agrega.sva.selectors import desired_for, sva_user_queryset

    deadline = time.monotonic() + seconds
    while SvaPendingWork.objects.exists():
        if time.monotonic() > deadline:
            print("Os usuários SVA não convergiram a tempo.", file=sys.stderr)
            return False
        time.sleep(0.5)
    remote = kit.remote_statuses(sandbox_url)
    ok = True
    for user in sva_user_queryset().filter(deleted_at__isnull=True):
        desired = desired_for(user).state
        shown = remote.get(user.external_id, "—")
        if user.registration_problems:
            shown = "pendente: " + "; ".join(p["message"] for p in user.registration_problems)
        elif shown != desired:
            ok = False
        print(f"  usuário SVA {user.pk} (contrato {user.contract_id}): desejado {desired}, na {label} {shown}")
    return ok


def web(argv: list[str]) -> int:
    """Production-style web server (gunicorn) with static files by WhiteNoise.

    Sync workers by default: the requests are CPU-bound, and under load 2 processes of 1
    thread answered with half the p99 of 2 × 4 threads (bench/README.md, "api_load")."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "agrega.wsgi:application", "--workers", os.environ.get("AGREGA_WEB_WORKERS", "2"),
                "--threads", os.environ.get("AGREGA_WEB_THREADS", "1"), "--access-logfile", "-",
                # the path without its query string: searches carry CPFs, e-mails, phones
                "--access-logformat", '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms "%(a)s"', *argv]
    if not any(a.startswith("--bind") or a == "-b" for a in argv):
        sys.argv += ["--bind", "127.0.0.1:8000"]
    run()
    return 0


def _platform_sandbox(platform: str):
    """The sandbox server of the SVA platform ``platform`` (``agrega <platform>-sandbox``),
    as its connector's kit declares it; None when no connector of that name ships one."""
    _django_setup()
    from agrega.integrations.connectors.registry import sandbox_server_main

    try:
        return sandbox_server_main(platform)
    except LookupError:
        return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv else "help"
    if command == "demo":
        return demo(argv[1:])
    if command == "web":
        return web(argv[1:])
    if command == "sefaz-sandbox":
        from sefaz_sandbox.server import main as sefaz_main

        return sefaz_main(argv[1:]) or 0
    if command == "pix-sandbox":
        from pix_sandbox.server import main as pix_sandbox_main

        return pix_sandbox_main(argv[1:]) or 0
    if command.endswith("-sandbox"):
        sandbox_main = _platform_sandbox(command.removesuffix("-sandbox"))
        if sandbox_main is not None:
            return sandbox_main(argv[1:]) or 0
    if command == "worker":
        argv = ["sva_worker", *argv[1:]]
    elif not command.startswith("-"):
        # commands are spelt with hyphens (sva-user, tax-rates); Django names them with _
        argv = [command.replace("-", "_"), *argv[1:]]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agrega.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["agrega", *argv])
    return 0


if __name__ == "__main__":
    sys.exit(main())
