"""``agrega dunning policies|preset|stages|update|sweep``: Portuguese text, --json, exit 2
with ``erro [code]`` on refusal and nothing changed."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from functools import partial

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from agrega.contracts.choices import AccessStatus as AS
from agrega.core.models import ChangeRecord
from agrega.dunning.models import DunningPolicy
from tests.cli.helpers import run as run_command

pytestmark = pytest.mark.django_db


run = partial(run_command, "dunning")  # (code, out, err), tests/cli/helpers.py


def test_policies_lists_stages_in_portuguese():
    code, out, err = run("policies")
    assert code == 0, err
    assert "Régua 1 — Anatel (RGC) (padrão)" in out or "— Anatel (RGC) (padrão)" in out
    assert "16 dia(s) após o vencimento  Suspensão parcial (FA)" in out
    assert "até 3 dia(s), 1 uso(s) a cada 30 dias" in out
    code, out, _ = run("policies", "--json")
    data = json.loads(out)
    assert [s["days_after_due"] for s in data[0]["stages"]] == [1, 16, 46, 76]


def test_preset_stages_update_with_author():
    user = get_user_model().objects.create_user("gestora", password="x-senha-123")
    code, out, err = run("preset", "simples", "--days", "20", "--name", "Bloqueio 20", "--default", "--as", "gestora")
    assert code == 0, err
    assert "Régua criada." in out and "Bloqueio 20 (padrão)" in out
    assert "20 dia(s) após o vencimento  Suspensão total / bloqueio automático (CA)" in out
    policy = DunningPolicy.objects.get(name="Bloqueio 20")
    assert policy.is_default
    code, out, err = run("stages", policy.pk, "--stage", "3:notice", "--stage", "20:block_automatic", "--json")
    assert code == 0, err
    assert [(s["days_after_due"], s["action"]) for s in json.loads(out)["stages"]] == [
        (3, "notice"), (20, "block_automatic")]
    code, out, err = run("update", policy.pk, "--trust-days", "5", "--trust-uses", "2", "--trust-period", "60",
                         "--as", "gestora")
    assert code == 0, err and "até 5 dia(s), 2 uso(s) a cada 60 dias" in out
    anatel = DunningPolicy.objects.get(preset="anatel")
    code, out, _ = run("update", anatel.pk, "--default")
    assert code == 0 and DunningPolicy.objects.get(is_default=True).pk == anatel.pk
    records = ChangeRecord.objects.filter(object_type="dunning.dunningpolicy", object_id=str(policy.pk))
    assert {r.action: r.actor_label for r in records} == {"create": "gestora", "stages": "sistema",
                                                          "update": "gestora"}
    assert records.get(action="create").actor == user


def test_refusals_exit_2_and_change_nothing():
    anatel = DunningPolicy.objects.get(preset="anatel")
    code, out, err = run("stages", anatel.pk, "--stage", "10:notice", "--stage", "5:rescind")
    assert code == 2 and "erro [validation_failed]" in err
    assert "stages.2.days_after_due: [days_not_increasing]" in err
    code, out, err = run("stages", anatel.pk, "--stage", "10:desligar", "--json")
    assert code == 2 and json.loads(out)["error"]["fields"]["stages.1.action"][0]["code"] == "action_invalid"
    assert anatel.stages.count() == 4
    code, out, err = run("preset", "anatel", "--days", "10", "--name", "Outra")
    assert code == 2 and "block_days_not_applicable" in err
    code, out, err = run("update", anatel.pk, "--trust-days", "31")
    assert code == 2 and "trust_release_days: [value_out_of_range]" in err
    code, out, err = run("update", 99999, "--trust-days", "2")
    assert code == 2 and "erro [policy_not_found]" in err
    with pytest.raises(CommandError, match="etapa inválida"):  # argparse refuses a stage without ':'
        call_command("dunning", "stages", str(anatel.pk), "--stage", "10", stdout=io.StringIO(), stderr=io.StringIO())


def test_sweep_text_and_json(billed_long_ago):
    contract, due = billed_long_ago()
    code, out, err = run("sweep", "--date", (due + timedelta(days=46)).isoformat())
    assert code == 0, err
    assert f"Régua aplicada em {due + timedelta(days=46):%d/%m/%Y}." in out
    assert "Anatel (RGC) · 3: Suspensão total / bloqueio automático (CA): 1" in out
    contract.refresh_from_db()
    assert contract.access_status == AS.AUTOMATIC_BLOCK
    code, out, err = run("sweep", "--date", due.isoformat())
    assert code == 2 and "erro [sweep_date_before_last]" in err
    future = (timezone.localdate() + timedelta(days=1)).isoformat()
    code, out, err = run("sweep", "--date", future, "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "sweep_date_future"
    code, out, err = run("sweep", "--json")
    assert code == 0 and json.loads(out)["today"] == timezone.localdate().isoformat()
