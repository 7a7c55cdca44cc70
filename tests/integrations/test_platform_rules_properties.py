"""What a platform accepts (its connector's DataRules) against oracles written here from
the declared rule, and EXA's declaration against the real sandbox over HTTP: data our
check lets through is accepted there, and data our check refuses for a platform reason
is refused there too when sent as it is.

EXA's rule (docs/connectors/exa.md, "Validation"): e-mail ``local@domain.tld`` in ASCII,
≤ 254 characters, an IDN domain taken in punycode; name non-blank, ≤ 200 characters of
visible Latin-1; phone Brazilian E.164.

On the exa_* fixtures: EXA's declared rules are held against EXA's own sandbox.
"""

from __future__ import annotations

import string
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from agrega.core.br import InvalidValue, clean_email, clean_mobile
from agrega.integrations.connectors.base import (
    DataRules,
    EmailDomain,
    IntegrationConfig,
    NameCharset,
    RemoteStatus,
    UserSpec,
)
from agrega.integrations.connectors.exa.rules import EXA_DATA_RULES
from agrega.integrations.connectors.registry import build_connector

SANDBOX = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PURE = settings(max_examples=300, deadline=None)

# -- oracles, from the rules as declared ------------------------------------------------


def punycode_form(email: str) -> str:
    """The ASCII form of an e-mail's domain: each non-ASCII label as xn--<punycode>."""
    local, _, domain = email.rpartition("@")
    labels = [label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
              for label in domain.split(".")]
    return f"{local}@{'.'.join(labels)}"


def email_ok(email: str, *, local_unicode: bool, domain: EmailDomain, max_length: int = 254) -> bool:
    local, _, dom = email.rpartition("@")
    if not local_unicode and not local.isascii():
        return False
    if domain == EmailDomain.ASCII and not dom.isascii():
        return False
    sent = punycode_form(email) if domain == EmailDomain.PUNYCODE else email
    return len(sent) <= max_length


def name_ok(name: str, *, charset: NameCharset, max_length: int) -> bool:
    if len(name) > max_length:
        return False
    return all(c.isprintable() and (charset == NameCharset.UNICODE or ord(c) <= 0xFF) for c in name)


# -- generators ---------------------------------------------------------------------------

ASCII_LOCAL = string.ascii_lowercase + string.digits + "_+-"
ACCENTED = "áàâãéêíóôõúüç"


@st.composite
def emails(draw):
    """E-mails as customers have them: ASCII or accented local parts and domain labels."""
    local = draw(st.text(ASCII_LOCAL + (ACCENTED if draw(st.booleans()) else ""), min_size=1, max_size=20))
    labels = draw(st.lists(st.text(string.ascii_lowercase + string.digits + (ACCENTED if draw(st.booleans()) else ""),
                                   min_size=1, max_size=12), min_size=1, max_size=3))
    tld = draw(st.sampled_from(["com", "br", "com.br", "net", "org"]))
    raw = f"{local}@{'.'.join(labels)}.{tld}"
    try:
        return clean_email(raw)  # only e-mails valid by Agrega's own rule reach a platform
    except InvalidValue:
        assume(False)


names = st.text(min_size=1, max_size=230).filter(lambda s: s.strip())
latin_names = st.text(st.characters(max_codepoint=0xFF), min_size=1, max_size=60).filter(lambda s: s.strip())


# -- pure properties: any declaration against its oracle ----------------------------------

@PURE
@given(emails(), st.booleans(), st.sampled_from(list(EmailDomain)))
@example("joão@exemplo.com.br", False, EmailDomain.PUNYCODE)
@example("maria@café.com.br", False, EmailDomain.PUNYCODE)
@example("maria@café.com.br", False, EmailDomain.ASCII)
def test_email_problems_follow_the_declaration(email, local_unicode, domain):
    rules = DataRules(email_local_unicode=local_unicode, email_domain=domain)
    problems = rules.problems("X", email=email)
    assert (not problems) == email_ok(email, local_unicode=local_unicode, domain=domain)
    for p in problems:
        assert p.field == "email" and "plataforma X" in p.message and ":" in p.message  # says what to do
    if not problems:
        expected = punycode_form(email) if domain == EmailDomain.PUNYCODE else email
        assert rules.platform_email(email) == expected
        assert rules.from_platform_email(rules.platform_email(email)) == email


@PURE
@given(st.one_of(names, latin_names), st.sampled_from(list(NameCharset)), st.integers(1, 220))
@example("José da Conceição", NameCharset.LATIN1, 200)
@example("Ana 😀", NameCharset.LATIN1, 200)
@example("Ana\tSouza", NameCharset.UNICODE, 200)
@example("渡辺", NameCharset.LATIN1, 200)
def test_name_problems_follow_the_declaration(name, charset, max_length):
    rules = DataRules(name_charset=charset, name_max_length=max_length)
    problems = rules.problems("X", name=name)
    assert (not problems) == name_ok(name, charset=charset, max_length=max_length)
    assert {p.code for p in problems} <= {"name_too_long", "name_character_not_accepted"}


@PURE
@given(st.sampled_from(["11", "21", "48", "85", "92"]), st.text(string.digits, min_size=8, max_size=8))
def test_every_mobile_agrega_accepts_fits_exas_phone_rule(ddd, rest):
    try:
        phone = clean_mobile(f"({ddd}) 9{rest}")
    except InvalidValue:
        assume(False)
    assert EXA_DATA_RULES.problems("EXA", phone=phone) == []


# -- EXA's declaration against the sandbox --------------------------------------------------

@pytest.fixture
def exa(exa_sandbox, sandbox_admin):
    prefix = "rules" + uuid.uuid4().hex[:10]
    client_id, secret = "cid-" + prefix, "secret-" + uuid.uuid4().hex
    sandbox_admin.create_partner(prefix, client_id, secret, packages=[("EXA-SEG-BASICO", "Básico")])
    connector = build_connector("exa", IntegrationConfig(base_url=exa_sandbox.url, prefix=prefix,
                                                         credentials={"client_id": client_id,
                                                                      "client_secret": secret}))
    token = httpx.post(exa_sandbox.url + "/v1/auth/token",
                       json={"client_id": client_id, "client_secret": secret}).json()["access_token"]
    raw = httpx.Client(base_url=f"{exa_sandbox.url}/v1/partners/{prefix}",
                       headers={"Authorization": f"Bearer {token}"})
    yield connector, raw
    raw.close()
    connector.close()


def spec(**kw) -> UserSpec:
    data = dict(external_id="agr-" + uuid.uuid4().hex, name="Cliente Teste", email=f"{uuid.uuid4().hex}@example.com",
                phone="+5511987654321", document="52998224725", package_code="EXA-SEG-BASICO",
                status=RemoteStatus.ACTIVE)
    data.update(kw)
    return UserSpec(**data)


def post_raw(raw: httpx.Client, s: UserSpec) -> httpx.Response:
    return raw.post("/users", json={"external_id": s.external_id, "name": s.name, "email": s.email, "phone": s.phone,
                                    "document": s.document, "package_code": s.package_code})


@SANDBOX
@given(emails())
@example("joão@exemplo.com.br")
@example("maria@café.com.br")
@example("ana@exemplo.com.br")
def test_exa_emails_we_let_through_are_accepted_and_those_we_refuse_are_refused(exa, email):
    connector, raw = exa
    email = f"{uuid.uuid4().hex[:6]}{email}"  # the sandbox refuses a repeated e-mail
    problems = EXA_DATA_RULES.problems("EXA", email=email)
    assert (not problems) == email_ok(email, local_unicode=False, domain=EmailDomain.PUNYCODE)
    if problems:
        response = post_raw(raw, spec(email=email))
        assert response.status_code == 422 and "email" in response.json()["error"]["fields"]
        return
    remote = connector.create_user(spec(email=email))
    assert remote.email == email  # read back in Agrega's form: no false drift
    stored = raw.get(f"/users/{remote.external_id}").json()
    assert stored["email"] == punycode_form(email)
    if not email.isascii():  # the conversion is what makes it acceptable
        response = post_raw(raw, spec(email=email))
        assert response.status_code == 422 and "email" in response.json()["error"]["fields"]


@SANDBOX
@given(st.one_of(names, latin_names))
@example("José da Conceição & Filhos Ltda.")
@example("Ana 😀 Souza")
@example("Ana\u200bSouza")
@example("x" * 201)
def test_exa_names_we_let_through_are_accepted_and_those_we_refuse_are_refused(exa, name):
    connector, raw = exa
    problems = EXA_DATA_RULES.problems("EXA", name=name)
    assert (not problems) == name_ok(name, charset=NameCharset.LATIN1, max_length=200)
    response = post_raw(raw, spec(name=name))
    if problems:
        assert response.status_code == 422 and "name" in response.json()["error"]["fields"]
    else:
        assert response.status_code == 201, response.text


@pytest.mark.parametrize("document", ["12ABC34501DE35", "11222333000181", "52998224725"])
def test_exa_takes_every_document_agrega_accepts(exa, document):
    connector, _ = exa
    assert EXA_DATA_RULES.problems("EXA", document=document) == []
    assert connector.create_user(spec(document=document)).document == document


@PURE
@given(st.one_of(names, latin_names), emails(), st.sampled_from(list(NameCharset)), st.sampled_from(list(EmailDomain)),
       st.booleans(), st.integers(1, 260))
def test_every_problem_has_a_declared_code(name, email, charset, domain, local_unicode, max_length):
    from agrega.integrations.connectors.base import RULE_CODES

    rules = DataRules(name_charset=charset, email_domain=domain, email_local_unicode=local_unicode,
                      name_max_length=max_length, email_max_length=max_length, alphanumeric_cnpj=False,
                      phone_pattern=r"\+55119[0-9]{8}")
    for p in rules.problems("X", name=name, email=email, phone="+5521987654321", document="12ABC34501DE35"):
        assert p.code in RULE_CODES and p.message.startswith("A plataforma X")
