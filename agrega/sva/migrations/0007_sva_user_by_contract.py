# Issue 21: the users of a contract found from the index alone (the dunning sweep queues
# the live users of every contract it blocks; docs/decisions/0007). The new index first,
# then the foreign key's own index goes — by name, in SQL: Django's AlterField would drop
# and re-add the constraint, checking every user again.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contracts', '0008_sva_one_account_constraint'),
        ('sva', '0006_pending_work_bumps'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='svauser',
            index=models.Index(fields=['contract'], include=('id', 'deleted_at'), name='sva_user_by_contract'),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='svauser',
                    name='contract',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='sva_users', to='contracts.contract'),
                ),
            ],
            database_operations=[
                migrations.RunSQL('DROP INDEX IF EXISTS "sva_svauser_contract_id_806a44c4"',
                                  'CREATE INDEX "sva_svauser_contract_id_806a44c4" ON "sva_svauser" ("contract_id")'),
            ],
        ),
    ]
