from django.db import migrations

CARRIERS = [
    # code, name, kuaidi100, cainiao
    ("SF", "顺丰速运", "shunfeng", "SF"),
    ("YTO", "圆通速递", "yuantong", "YTO"),
    ("ZTO", "中通快递", "zhongtong", "ZTO"),
    ("STO", "申通快递", "shentong", "STO"),
    ("YUNDA", "韵达快递", "yunda", "YUNDA"),
    ("JD", "京东物流", "jd", ""),
    ("EMS", "EMS", "ems", "EMS"),
    ("JT", "极兔速递", "jtexpress", "HTKY"),
]


def seed(apps, schema_editor):
    Carrier = apps.get_model("logistics", "Carrier")
    for code, name, k100, cainiao in CARRIERS:
        Carrier.objects.update_or_create(code=code, defaults={"name": name, "kuaidi100_code": k100,
                                                              "cainiao_code": cainiao})


def unseed(apps, schema_editor):
    apps.get_model("logistics", "Carrier").objects.filter(code__in=[c[0] for c in CARRIERS]).delete()


class Migration(migrations.Migration):
    dependencies = [("logistics", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
