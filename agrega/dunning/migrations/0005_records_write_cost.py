# Issue 21: DunningNotice with no index but its primary key: nothing reads the notices
# by contract or by sent_at yet (docs/decisions/0006, item 8).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('dunning', '0004_pix_charges'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='dunningnotice',
            name='notice_unsent',
        ),
        migrations.AlterField(
            model_name='dunningnotice',
            name='contract',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='dunning_notices', to='contracts.contract'),
        ),
    ]
