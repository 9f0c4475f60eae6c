"""`manage.py migrate`, connected as the tables' owner (DATABASE_OWNER_URL) when one is configured.

Django's migrate, plus: the run connects as the owner and in system scope (data migrations see
every tenant), row-level security is (re)applied to every tenant-owned table (post_migrate,
oms.apps), and the application role (DATABASE_URL's user) is created if missing and granted row
access. Without DATABASE_OWNER_URL it behaves exactly like Django's migrate plus the policies.
"""

from django.core.management.commands.migrate import Command as DjangoMigrate

from oms import rls


class Command(DjangoMigrate):
    def check(self, *args, **kwargs):
        with rls.migrating():
            return super().check(*args, **kwargs)

    def handle(self, *args, **options):
        using = options["database"]
        with rls.as_owner(using) as app_role, rls.system_scope(using):
            result = super().handle(*args, **options)
            if app_role is not None:
                rls.grant_app_role(app_role[0], using=using, password=app_role[1])
                if options["verbosity"] >= 1:
                    self.stdout.write(f"row-level security applied; application role {app_role[0]} granted row access")
        return result
