# Shop.warehouses through a tenant-owned table (step 3 of 3): the field uses the new table; the old
# link table (no tenant column) goes.
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("channels", "0004_shopwarehouse_copy")]

    operations = [
        migrations.RemoveField(model_name="shop", name="warehouses"),
        migrations.AddField(
            model_name="shop",
            name="warehouses",
            field=models.ManyToManyField(blank=True, help_text="留空表示所有启用的仓库", related_name="shops",
                                         through="channels.ShopWarehouse", to="inventory.warehouse",
                                         verbose_name="发货仓"),
        ),
    ]
