#!/usr/bin/env bash
# Installs Tryton — the peer ERP of bench/peer_billing.py — from PyPI into its own virtual
# environment (bench/peers/.venv-tryton, never committed) and initialises a Tryton
# database on the local PostgreSQL with the subscription and invoicing modules
# activated: agrega_tryton_base. The benchmark copies that database for every run.
#
#   bench/peers/install_tryton.sh            # install (or reuse) and initialise
#   bench/peers/install_tryton.sh --force    # drop agrega_tryton_base and initialise again
#
# Nothing of Tryton is vendored: the versions below are the whole pin.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv-tryton
PG_SERVER=${BENCH_PG_SERVER:-postgres://postgres@127.0.0.1:5432}
BASE_DB=agrega_tryton_base
PACKAGES=(
  # what the bench asks for
  "trytond[postgresql]==8.2.1"
  "trytond-sale-subscription==8.2.0"
  "trytond-account-invoice==8.2.0"
  "proteus==8.2.0"            # Tryton's scripting client, for the setup wizards
  # the Tryton modules those depend on
  "trytond-account==8.2.1" "trytond-account-invoice-stock==8.2.0" "trytond-account-product==8.2.0"
  "trytond-company==8.2.0" "trytond-country==8.2.0" "trytond-currency==8.2.0" "trytond-party==8.2.0"
  "trytond-product==8.2.0" "trytond-sale==8.2.0" "trytond-stock==8.2.1"
  # and the libraries they pull in, as resolved on 2026-11-28
  "psycopg[binary]==3.3.9" "psycopg-binary==3.3.9" "psycopg-pool==3.3.3"
  "argon2-cffi==25.1.0" "argon2-cffi-bindings==26.2.0" "cffi==2.1.1" "defusedxml==0.7.1" "Genshi==0.7.12"
  "lxml==6.1.3" "MarkupSafe==3.0.4" "polib==1.2.0" "puremagic==1.30" "pwdlib==0.3.1" "pycparser==3.12"
  "python-dateutil==4.0.0" "python-sql==1.8.1" "python-stdnum==2.2" "relatorio==1.0.0" "simpleeval==1.0.8"
  "typing_extensions==4.16.0" "tzdata==2026.6" "Werkzeug==3.1.9"
)

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# Reinstall when the pins above changed since the last install.
stamp="$VENV/.installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "${PACKAGES[*]}" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "${PACKAGES[@]}"
  echo "${PACKAGES[*]}" > "$stamp"
fi

psql_admin() { psql "$PG_SERVER/postgres" -v ON_ERROR_STOP=1 -qtAc "$1"; }

if [ "${1:-}" = "--force" ]; then
  psql_admin "DROP DATABASE IF EXISTS $BASE_DB WITH (FORCE)"
fi
ready=$(psql "$PG_SERVER/$BASE_DB" -qtAc \
  "SELECT 1 FROM ir_module WHERE name = 'sale_subscription' AND state = 'activated'" 2>/dev/null || true)
if [ "$ready" = "1" ]; then
  echo "tryton: $BASE_DB ready ($("$VENV/bin/python" -c 'import trytond; print(trytond.__version__)'))"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/trytond.conf" <<EOF
[database]
uri = ${PG_SERVER/#postgres:/postgresql:}/
path = $work/data
EOF
printf 'admin-bench\n' > "$work/passfile"

psql_admin "DROP DATABASE IF EXISTS $BASE_DB WITH (FORCE)"
psql_admin "CREATE DATABASE $BASE_DB ENCODING 'UTF8' TEMPLATE template0"
export TRYTONPASSFILE="$work/passfile"
start=$(date +%s)
"$VENV/bin/trytond-admin" -c "$work/trytond.conf" -d "$BASE_DB" --all --email admin@bench.invalid
"$VENV/bin/trytond-admin" -c "$work/trytond.conf" -d "$BASE_DB" \
  -u sale_subscription account_invoice --activate-dependencies
echo "tryton: $BASE_DB initialised in $(( $(date +%s) - start ))s"
