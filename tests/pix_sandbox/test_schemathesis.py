"""schemathesis against the running sandbox, with the API Pix 2.9.0 yaml as the schema.

Every operation the sandbox implements is generated from the yaml (examples, coverage and
fuzzing phases; positive and negative data) and every answer is checked: no 5xx, only
documented status codes, content types and headers, bodies valid against the response
schemas, and invalid requests refused. The ids of a seeded cob/cobv/cobr, Pix,
devolução, rec and solicrec are given to the path parameters so GET/PATCH reach real
resources instead of 404s. The yaml is used with the errata of ``pix_sandbox.conformance``
(each one is a defect of the document that no implementation could pass).

Checks not run, and why:
* ``positive_data_acceptance``: a request valid for the schema may still break a rule of
  the description (a chave that is not the receiver's, a due date in the past, a cobr out
  of its window) and is rightly refused with a 400;
* ``use_after_free``, ``ensure_resource_availability``, ``ignored_auth``,
  ``object_level_authorization``, ``missing_required_header``, ``unsupported_method``,
  ``allow_header_conformance``: stateful/auth probes, not conformance of answers (auth is
  tested in test_cobv_pix.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import uuid

import httpx
import pytest

from pix_sandbox import conformance
from pix_sandbox.store import today
from pix_sandbox.testing import Payer, PixClient, SandboxProcess

IMPLEMENTED = [
    "/cob", "/cob/{txid}", "/cobv", "/cobv/{txid}", "/pix", "/pix/{e2eid}", "/pix/{e2eid}/devolucao/{id}",
    "/webhook", "/webhook/{chave}", "/webhookrec", "/webhookcobr", "/rec", "/rec/{idRec}", "/solicrec",
    "/solicrec/{idSolicRec}", "/cobr", "/cobr/{txid}", "/cobr/{txid}/retentativa/{data}",
]
# Examples per operation in the fuzzing phase: small by default; CI's deep run sets
# AGREGA_FUZZ_EXAMPLES=50 (.ci/run), capped at 20 here (50 took 6.5 min on a loaded
# machine, 5 about 1 min; the coverage phase, which does not depend on it, is the bulk).
EXAMPLES = min(int(os.environ.get("AGREGA_FUZZ_EXAMPLES", "5")), 20)
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "negative_data_rejection"]


def seed(client: PixClient, payer: Payer, chave: str) -> dict[str, str]:
    """One of each resource, sharing one txid (cob, cobv and cobr live apart)."""
    txid = uuid.uuid4().hex
    due = today() + dt.timedelta(days=5)
    ok = lambda r: r.raise_for_status().json() if r.content else None  # noqa: E731
    ok(client.request("PUT", f"/cob/{txid}", json={"valor": {"original": "10.00"}, "chave": chave}))
    ok(client.request("PUT", f"/cobv/{txid}", json={
        "calendario": {"dataDeVencimento": due.isoformat()}, "devedor": {"cpf": "12345678909", "nome": "Ana"},
        "valor": {"original": "50.00"}, "chave": chave}))
    paid = uuid.uuid4().hex
    ok(client.request("PUT", f"/cobv/{paid}", json={
        "calendario": {"dataDeVencimento": due.isoformat()}, "devedor": {"cnpj": "12345678000195", "nome": "B"},
        "valor": {"original": "80.00"}, "chave": chave}))
    e2eid = payer.pay(paid)["endToEndId"]
    ok(client.request("PUT", f"/pix/{e2eid}/devolucao/dev1", json={"valor": "1.00"}))
    ok(client.request("PUT", f"/webhook/{chave}", json={"webhookUrl": "http://127.0.0.1:9/hook"}))
    rec = {"vinculo": {"contrato": "C1", "devedor": {"cpf": "12345678909", "nome": "Ana"}},
           "calendario": {"dataInicial": (today() + dt.timedelta(days=1)).isoformat(), "periodicidade": "MENSAL"},
           "valor": {"valorMinimoRecebedor": "1.00"}, "politicaRetentativa": "PERMITE_3R_7D"}
    id_rec = ok(client.request("POST", "/rec", json=rec))["idRec"]
    sol = ok(client.request("POST", "/solicrec", json={
        "idRec": id_rec, "calendario": {"dataExpiracaoSolicitacao": "2099-01-01T00:00:00Z"},
        "destinatario": {"conta": "1", "ispbParticipante": "60701190", "cpf": "12345678909"}}))
    payer.approve_rec(id_rec)
    ok(client.request("PUT", f"/cobr/{txid}", json={
        "idRec": id_rec, "calendario": {"dataDeVencimento": due.isoformat()}, "valor": {"original": "10.00"},
        "ajusteDiaUtil": True, "recebedor": {"conta": "1", "tipoConta": "CORRENTE"}}))
    return {"path.txid": txid, "path.e2eid": e2eid, "path.id": "dev1", "path.chave": chave,
            "path.idRec": id_rec, "path.idSolicRec": sol["idSolicRec"]}


def toml_value(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


@pytest.mark.slow
def test_schemathesis_finds_no_nonconforming_answer(tmp_path, pix_spec):
    spec_file = tmp_path / "bcb-api-pix-2.9.0-errata.json"
    spec_file.write_text(json.dumps(conformance.load_spec_dict()))
    regex = "^(" + "|".join(re.escape(p) for p in IMPLEMENTED) + ")$"
    with SandboxProcess(args=["--client", "st:secret:chave-st", "--token-ttl", "86400"]) as sandbox:
        with PixClient(sandbox.url, sandbox.token_url, "st", "secret") as client, \
                Payer(sandbox.root, client_id="st") as payer:
            params = seed(client, payer, "chave-st")
            token = client.fetch_token()
        config = tmp_path / "schemathesis.toml"
        config.write_text("[parameters]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n"
                                                     for k, v in params.items()))
        command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", str(spec_file),
                   "--url", sandbox.url, "-H", f"Authorization: Bearer {token}",
                   "--include-path-regex", regex, "--checks", ",".join(CHECKS),
                   "--max-examples", str(EXAMPLES), "--seed", "20261207", "--workers", "1",
                   "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
                   "--request-timeout", "10", "--output-truncate", "true", "--warnings", "off"]
        run = subprocess.run(command, capture_output=True, text=True, timeout=1500)
        output = run.stdout + run.stderr
        assert httpx.get(sandbox.root + "/_sandbox/health").status_code == 200  # it survived
    summary = output[output.rfind("SUMMARY"):]
    assert run.returncode == 0, output[-20000:]
    generated = re.search(r"(\d+) generated", summary)
    assert generated and int(generated.group(1)) > 500, summary
    assert re.search(r"Tested: (\d+)", summary).group(1) == re.search(r"Selected: (\d+)", summary).group(1)
