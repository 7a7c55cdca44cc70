"""Validation of API Pix exchanges against the Banco Central's OpenAPI 2.9.0 document.

The sandbox and Agrega's PSP client are both checked against the published yaml, not
against our reading of it: ``validate_exchange`` runs ``openapi-core`` on one request
and its answer. The yaml is not copied into the repository; it is found in
``shared/reference/`` next to the repository (or any ancestor folder), or at
``$AGREGA_PIX_API_SPEC``.

The published document has four defects that make some checks impossible to pass for
*any* implementation. They are corrected in memory, each one narrowly, in ``ERRATA``
(the file on disk is never edited); everything else is checked as published.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import Any, Iterator

SPEC_NAME = "bcb-api-pix-2.9.0.yaml"
SERVER = "https://pix.example.com"  # the yaml's ``servers`` (paths live under /api/)

ERRATA = (
    ("patterns /^\\d{11}$/ (CPF) and /^\\d{7}$/ (codMun)",
     "Written with JavaScript/PHP delimiters: as an ECMA-262 regex each requires a literal "
     "'/' before '^', so no CPF (or município code) can ever match and every devedor or "
     "pagador with a CPF fails. The delimiters are removed wherever they occur."),
    ("DadosRecebedor.required",
     "DadosRecebedor puts required [logradouro, cidade, uf, cep] on the charge itself "
     "instead of on 'recebedor' (whose own allOf already requires them): a conforming "
     "charge would need an address at its top level. The misplaced 'required' is removed."),
    ("PixConsultados.required",
     "GET /pix's answer requires a property 'cobs' that the schema does not define (its "
     "list is 'pix'): 'cobs' is replaced by 'pix' in the required list."),
    ("CobsConsultadas/CobsVConsultadas items.required idCob",
     "The list items of GET /cob and GET /cobv require 'idCob', a field defined nowhere "
     "in the document: 'idCob' is dropped from those two required lists."),
    ("query parameter revisao",
     "GET /cob/{txid} and GET /cobv/{txid} take ?revisao= with the schema Revisao, which is "
     "readOnly: a validator refuses any request that sends it ('read-only property'). The "
     "parameter gets the same integer schema without readOnly."),
    ("general errors on every operation",
     "The description's section 'Gerais' says RequisicaoInvalida (400), AcessoNegado (403), "
     "NaoEncontrado (404), PermanentementeRemovido (410), ErroInternoDoServidor (500), "
     "ServicoIndisponivel (503) and IndisponibilidadePorTempoEsgotado (504) may be returned "
     "by any endpoint, and the tag sections define 400s (e.g. PixConsultaInvalida for "
     "GET /pix) that the operations' response lists omit. Each operation lacking one of "
     "these statuses gets it, as a Problema in application/problem+json."),
    ("RecBase.required / RecSolicitada",
     "RecBase requires 'retentativa', a property defined nowhere (the field is "
     "politicaRetentativa, required on its own), and 'idRec', which the PSP creates: "
     "the yaml's own POST /rec examples (recBody1, recBody2) carry neither. 'retentativa' "
     "is dropped; 'idRec' stays required in answers but not in the POST /rec body."),
    ("RecNotification.required",
     "Lists 'atualizacao\"' (a stray quote in the yaml: required: [\"idRec\",\"status\","
     "atualizacao\"]): read as 'atualizacao'."),
    ("DadosPagadorRec.required",
     "Puts required [ispbParticipante] on the recurrence itself instead of on 'pagador' "
     "(as DadosRecebedor does): moved into 'pagador'."),
    ("PixAutomatico.valor",
     "The valor of a Pix Automático is a string with a pattern and, at the same time, an "
     "anyOf of objects (the componentesValor alternatives, misindented): no value can "
     "satisfy both. The anyOf is removed; valor stays a money string."),
    ("SolicRecCompleta.required / SolicRecBase.required",
     "Require 'rec' and 'pagador', properties defined nowhere (the payload is "
     "'recPayload', the payer 'destinatario'); the yaml's own examples (solicRecResponse1) "
     "have neither. Both names are dropped from the required lists."),
    ("oneOf branches without required",
     "encerramento (rec and cobr: {cancelamento} | {rejeicao}) and valor.desconto of a "
     "cobv ({descontoDataFixa} | {valorPerc}) are oneOf alternatives whose branches name "
     "one property but require none: any object matches every branch, so oneOf can never "
     "hold. Each such branch gets required: [its one property]."),
    ("format uri of location",
     "A charge's 'location' is declared format: uri, but the yaml's own examples "
     "(pix.example.com/qr/v2/…) have no scheme — as the BR Code needs it (ID 26/25 carries "
     "the URL without https://). A URI needs a scheme, so no PSP answer could pass. The "
     "format is dropped where the field's example has no scheme (maxLength 77 stays)."),
    ("location endpoints removed",
     "GET /{pixUrlAccessToken}, /cobv/{pixUrlAccessToken} and /rec/{recUrlAccessToken} "
     "are served at a charge's location URL (open, application/jose), not under the API's "
     "base; kept in the same 'paths', /rec/{recUrlAccessToken} and /cobv/{pixUrlAccessToken} "
     "make GET /rec/{idRec} and GET /cobv/{txid} ambiguous for any path matcher. They are "
     "left out of the validated document (the sandbox does not serve them)."),
    ("401 and 429",
     "Not in the document at all, but implied by its OAuth2 security scheme (RFC 6750: an "
     "invalid or expired bearer token is a 401) and by rate limiting (RFC 6585). Added to "
     "every secured operation as a Problema, so fault scenarios can be validated too."),
)

GENERAL_STATUSES = ("400", "401", "403", "404", "410", "429", "500", "503", "504")


class SpecNotFound(FileNotFoundError):
    pass


def spec_path() -> Path:
    """Where the yaml is: ``$AGREGA_PIX_API_SPEC``, else ``<ancestor>/shared/reference/``
    for the repository's folder and each of its ancestors (a fresh clone in CI has
    ``shared/`` as its sibling; a git worktree finds it higher up)."""
    env = os.environ.get("AGREGA_PIX_API_SPEC")
    if env:
        path = Path(env)
        if path.is_file():
            return path
        raise SpecNotFound(f"AGREGA_PIX_API_SPEC={env} não existe.")
    repo = Path(__file__).resolve().parents[1]
    for folder in (repo, *repo.parents):
        path = folder / "shared" / "reference" / SPEC_NAME
        if path.is_file():
            return path
    raise SpecNotFound(f"{SPEC_NAME} não encontrado em shared/reference/ ao lado do repositório "
                       f"({repo.parent}) nem acima dele.")


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def apply_errata(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` with the defects listed in ``ERRATA`` corrected."""
    spec = copy.deepcopy(spec)
    for node in _walk(spec):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and len(pattern) > 2 and pattern.startswith("/^") and pattern.endswith("$/"):
            node["pattern"] = pattern[1:-1]
    for node in _walk(spec):
        if node.get("format") == "uri" and isinstance(node.get("example"), str) and "://" not in node["example"]:
            node.pop("format")
    for node in _walk(spec):
        for branch in node.get("oneOf", []) if isinstance(node.get("oneOf"), list) else []:
            props = branch.get("properties") if isinstance(branch, dict) else None
            if isinstance(props, dict) and len(props) == 1 and "required" not in branch and "$ref" not in branch:
                branch["required"] = list(props)
    schemas = spec["components"]["schemas"]
    schemas["DadosRecebedor"].pop("required", None)
    base = schemas["RecBase"]
    base["required"] = [r for r in base["required"] if r != "retentativa"]
    request_base = copy.deepcopy(base)
    request_base["required"] = [r for r in request_base["required"] if r != "idRec"]
    schemas["RecBaseSolicitada"] = request_base
    schemas["RecSolicitada"]["allOf"] = [
        {"$ref": "#/components/schemas/RecBaseSolicitada"} if part == {"$ref": "#/components/schemas/RecBase"}
        else part for part in schemas["RecSolicitada"]["allOf"]]
    schemas["RecNotification"]["required"] = [r.rstrip('"') for r in schemas["RecNotification"]["required"]]
    payer = schemas["DadosPagadorRec"]
    payer.pop("required", None)
    payer["properties"]["pagador"]["required"] = ["ispbParticipante"]
    schemas["PixAutomatico"]["properties"]["valor"].pop("anyOf", None)
    schemas["SolicRecCompleta"].pop("required", None)
    schemas["SolicRecBase"]["required"] = [r for r in schemas["SolicRecBase"]["required"] if r != "pagador"]
    schemas["PixConsultados"]["required"] = ["parametros", "pix"]
    for name in ("CobsConsultadas", "CobsVConsultadas"):
        for part in schemas[name]["properties"]["cobs"]["items"]["allOf"]:
            if "idCob" in part.get("required", []):
                part["required"] = [r for r in part["required"] if r != "idCob"]
    for location in ("/{pixUrlAccessToken}", "/cobv/{pixUrlAccessToken}", "/rec/{recUrlAccessToken}"):
        spec["paths"].pop(location, None)
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for param in operation.get("parameters", []):
                if param.get("name") == "revisao" and param.get("in") == "query":
                    param["schema"] = {"type": "integer", "format": "int32"}
    problem = {"description": "Erro geral (errata do sandbox).", "content": {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problema"}},
        "application/json": {"schema": {"$ref": "#/components/schemas/Problema"}}}}
    for item in spec["paths"].values():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "patch", "delete") or not isinstance(operation, dict):
                continue
            if operation.get("security") == []:
                continue
            for status in GENERAL_STATUSES:
                operation["responses"].setdefault(status, copy.deepcopy(problem))
    return spec


@functools.lru_cache(maxsize=1)
def load_spec_dict() -> dict[str, Any]:
    """The yaml, parsed and corrected (once per process)."""
    import yaml

    with open(spec_path(), encoding="utf-8") as fh:
        return apply_errata(yaml.safe_load(fh))


@functools.lru_cache(maxsize=1)
def openapi():
    from openapi_core import Config, OpenAPI

    # The document does not pass openapi-spec-validator as published (e.g. the default of
    # calendario.expiracao is the string '86400' for an integer): schemas are still
    # checked, the meta-validation of the document is skipped.
    # Errors are declared as application/problem+json, which openapi-core does not parse
    # by itself: it is JSON.
    config = Config(spec_validator_cls=None,
                    extra_media_type_deserializers={"application/problem+json": json.loads})
    return OpenAPI.from_dict(load_spec_dict(), config=config)


class NonConforming(AssertionError):
    """A request or a response that the API Pix document does not allow."""


def _errors(exc: Exception) -> str:
    parts = [str(exc)[:400]]
    seen = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        for attr in ("schema_errors", "errors"):
            for err in getattr(current, attr, None) or []:
                text = (getattr(err, "message", None) or str(err))[:400]
                path = "/".join(str(p) for p in getattr(err, "absolute_path", []) or [])
                line = f"  - {path}: {text}" if path else f"  - {text}"
                if line not in seen:
                    seen.add(line)
                    parts.append(line)
                stack.append(err)
        if current.__cause__ is not None:
            stack.append(current.__cause__)
    return "\n".join(parts)


def validate_exchange(method: str, path: str, request_body: Any, status: int, response_body: Any,
                      *, query: dict[str, Any] | None = None, response_content_type: str | None = None,
                      check_request: bool = True) -> None:
    """Raise ``NonConforming`` unless this request and its answer conform to the yaml.

    ``path`` is the API path without the base (``/cobv/<txid>``, with or without a
    leading ``/api``); bodies are JSON-able objects (or None / raw ``bytes``).
    ``response_content_type`` defaults to ``application/json`` for 2xx and
    ``application/problem+json`` for errors, as the document declares them."""
    from openapi_core.testing import MockRequest, MockResponse

    api_path = path if path.startswith("/api/") else "/api" + (path if path.startswith("/") else "/" + path)
    path_only, _, raw_query = api_path.partition("?")
    args = dict(query or {})
    if raw_query:
        from urllib.parse import parse_qsl

        args.update(parse_qsl(raw_query, keep_blank_values=True))

    def encode(body: Any) -> bytes | None:
        if body is None:
            return None
        if isinstance(body, (bytes, bytearray)):
            return bytes(body)
        return json.dumps(body).encode()

    request = MockRequest(SERVER, method.lower(), path_only, args=args,
                          headers={"Authorization": "Bearer conformance"},
                          data=encode(request_body), content_type="application/json")
    spec = openapi()
    import warnings

    warnings.filterwarnings("ignore", "Unsupported scheme type")  # oauth2 presence isn't checkable here
    if check_request:
        try:
            spec.validate_request(request)
        except Exception as exc:  # openapi-core raises a family of validation errors
            raise NonConforming(f"requisição {method} {path} fora do schema:\n{_errors(exc)}") from exc
    if response_content_type is None:
        response_content_type = "application/json" if status < 400 else "application/problem+json"
    data = encode(response_body) or b""
    response = MockResponse(data, status_code=status, content_type=response_content_type)
    try:
        spec.validate_response(request, response)
    except Exception as exc:
        raise NonConforming(f"resposta {status} de {method} {path} fora do schema:\n{_errors(exc)}") from exc


CALLBACK_BODIES = {"pix": "WebhookPixBody", "rec": "WebhookRecBody", "cobr": "WebhookCobRBody"}


def validate_callback(kind: str, body: Any) -> None:
    """Raise ``NonConforming`` unless ``body`` is what the yaml's callback ``kind``
    (``pix``, ``rec`` or ``cobr``: the PSP's POST to ``<webhookUrl>/<kind>``) carries."""
    from openapi_schema_validator import OAS30Validator
    from openapi_schema_validator._format import oas30_format_checker

    spec = load_spec_dict()
    name = CALLBACK_BODIES[kind]
    schema = {"components": spec["components"],
              "$ref": f"#/components/requestBodies/{name}/content/application~1json/schema"}
    validator = OAS30Validator(schema, format_checker=oas30_format_checker)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  - {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
        raise NonConforming(f"corpo do callback {kind} fora do schema:\n" + "\n".join(lines))
