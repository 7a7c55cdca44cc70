"""Install the Anatel régua as the default and the simple one beside it."""

from django.db import migrations

ANATEL = ((1, "notice"), (16, "partial_suspension"), (46, "block_automatic"), (76, "rescind"))
SIMPLE = ((15, "block_automatic"),)


def install(apps, schema_editor):
    Policy = apps.get_model("dunning", "DunningPolicy")
    Stage = apps.get_model("dunning", "DunningStage")
    for name, preset, default, stages in (
        ("Anatel (RGC)", "anatel", True, ANATEL),
        ("Simples (bloqueio após 15 dias)", "simples", False, SIMPLE),
    ):
        policy, created = Policy.objects.get_or_create(name=name, defaults={"preset": preset, "is_default": default})
        if created:
            for level, (days, action) in enumerate(stages, start=1):
                Stage.objects.create(policy=policy, level=level, days_after_due=days, action=action)


class Migration(migrations.Migration):
    dependencies = [("dunning", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
