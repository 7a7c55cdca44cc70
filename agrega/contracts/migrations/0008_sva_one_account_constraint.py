# The constraint in a migration of its own: PostgreSQL refuses to alter a table with
# pending trigger events left by the data migration before it in the same transaction.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('contracts', '0007_sva_one_account'),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='contractproduct',
            constraint=models.UniqueConstraint(condition=models.Q(('removed_at__isnull', True), ('sva_account_customer__isnull', False)), fields=('sva_account_customer', 'sva_account_integration'), name='one_sva_account_per_customer', violation_error_message='O cliente já tem uma conta nesta plataforma SVA.'),
        ),
    ]
