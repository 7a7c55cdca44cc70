"""What EXA accepts in a user's registration data (docs/connectors/exa.md, "Validation"),
declared once here; exa_sandbox/store.py enforces the same on the sandbox's side and
tests/integrations/test_platform_rules_properties.py holds the two together."""

from __future__ import annotations

from ..base import DataRules, EmailDomain, NameCharset

EXA_DATA_RULES = DataRules(
    # local@domain.tld in ASCII: nothing but ASCII before the @; an IDN domain is taken in
    # its punycode form (the connector converts it when sending, and back when reading)
    email_local_unicode=False,
    email_domain=EmailDomain.PUNYCODE,
    email_max_length=254,
    name_max_length=200,
    name_charset=NameCharset.LATIN1,
    phone_pattern=r"\+55[1-9][0-9][0-9]{8,9}",  # Brazilian E.164: +55, DDD, 8 or 9 digits
    phone_example="+5511987654321",
    alphanumeric_cnpj=True,
)
