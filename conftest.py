# Shared Django fixtures (the EXA sandbox fixtures live in tests/conftest.py).
import os

from django.conf import settings

# Agrega refuses development secrets without DEBUG (agrega/core/keys.py). The suite runs
# on a clean clone with no environment: it uses fixed test keys, in this process (whose
# settings pytest-django already loaded) and in every `agrega …` subprocess it starts.
TEST_KEYS = {
    "AGREGA_SECRET_KEY": "agrega-test-suite-secret-key-not-for-production-0123456789",
    "AGREGA_CREDENTIALS_KEY": "dGVzdC1zdWl0ZS1jcmVkZW50aWFscy1rZXktMzJieXQ=",
}
for _name, _value in TEST_KEYS.items():
    os.environ.setdefault(_name, _value)
settings.SECRET_KEY = os.environ["AGREGA_SECRET_KEY"]
settings.CREDENTIALS_KEY = os.environ["AGREGA_CREDENTIALS_KEY"]

# Shared fixtures, each defined once and offered to every test directory (never copied
# into a directory's conftest): data builders, API clients, billed/blocked contracts, the
# browser, its pages and their helpers, the SEFAZ and PSP sandboxes.
pytest_plugins = ["tests.fixtures", "tests.fixtures_api", "tests.billing.fixtures_billing",
                  "tests.web.fixtures_contracts", "tests.web.fixtures_browser", "tests.sefaz_fixtures",
                  "tests.pix_fixtures"]
