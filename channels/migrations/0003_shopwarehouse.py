# Shop.warehouses through a tenant-owned table (step 1 of 3): the new table.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("channels", "0002_raworder_payload_field"),
        ("inventory", "0002_alerts_transfers_writeoffs"),
        ("oms", "0002_importjob"),
    ]

    operations = [
        migrations.CreateModel(
            name="ShopWarehouse",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("shop", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                           to="channels.shop")),
                ("tenant", models.ForeignKey(editable=False, on_delete=django.db.models.deletion.CASCADE,
                                             related_name="+", to="oms.tenant", verbose_name="租户")),
                ("warehouse", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="+",
                                                to="inventory.warehouse")),
            ],
            options={
                "verbose_name": "店铺发货仓",
                "verbose_name_plural": "店铺发货仓",
                "constraints": [models.UniqueConstraint(fields=("tenant", "shop", "warehouse"),
                                                        name="shopwarehouse_unique")],
            },
        ),
    ]
