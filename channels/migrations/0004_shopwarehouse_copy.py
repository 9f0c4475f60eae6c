# Shop.warehouses through a tenant-owned table (step 2 of 3): copy the links, with the shop's tenant.
from django.db import migrations


def forward(apps, schema_editor):
    Shop = apps.get_model("channels", "Shop")
    ShopWarehouse = apps.get_model("channels", "ShopWarehouse")
    Old = Shop.warehouses.through
    rows = Old.objects.select_related("shop").only("shop__tenant_id", "shop_id", "warehouse_id")
    ShopWarehouse.objects.bulk_create(
        [ShopWarehouse(tenant_id=r.shop.tenant_id, shop_id=r.shop_id, warehouse_id=r.warehouse_id) for r in rows],
        batch_size=1000, ignore_conflicts=True)


def backward(apps, schema_editor):
    Shop = apps.get_model("channels", "Shop")
    ShopWarehouse = apps.get_model("channels", "ShopWarehouse")
    Old = Shop.warehouses.through
    Old.objects.bulk_create([Old(shop_id=r.shop_id, warehouse_id=r.warehouse_id) for r in ShopWarehouse.objects.all()],
                            batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):

    dependencies = [("channels", "0003_shopwarehouse")]

    operations = [migrations.RunPython(forward, backward)]
