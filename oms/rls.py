"""Tenant isolation in the database: PostgreSQL row-level security (RLS).

Every tenant-owned table (each model inheriting `TenantOwned`, and the many-to-many tables
hanging off one) carries one policy: a row is visible and writable only when its tenant is the
session's tenant (`oms.tenant_id`), or when the session is in the deliberate *system* scope
(`oms.system = on`) that cross-tenant code asks for by name. A session with neither sees no
tenant rows at all, so a query that forgot its `tenant_id` filter returns nothing instead of
another tenant's rows. The application connects as a role that is not the tables' owner, not a
superuser and not BYPASSRLS; migrations run as the owner (`oms.management.commands.migrate`).

The scope belongs to the thread's connection object (Django opens one per thread) and survives
reconnects: `connection_created` re-applies it. It is set with `set_config(..., false)` (session
level: Django runs in autocommit, so `SET LOCAL` would end with the statement) and every change
is undone by the context manager that made it, so a persistent connection never carries a scope
into the next request or task. Inside a transaction that rolls back PostgreSQL restores the
value it had before the transaction, which is also what the (balanced) context managers restore.

Who sets it:
- web requests: `oms.middleware.TenantMiddleware` -> the member's tenant, or no scope;
- Celery tasks: `task_prerun` -> the task's `tenant_id` argument; tasks declared with
  `oms_system_scope=True` (beat dispatchers) run in system scope when given no tenant;
- code that is cross-tenant by design wraps exactly that part in `system_scope()` (public
  tracking lookup, webhooks finding their shop, push consumers' supervisor, management commands).

On SQLite all of this is a no-op: the application-level scoping (`for_tenant`, the base views,
the scoped admin) is the isolation there, as it is everywhere.
"""

from __future__ import annotations

import hashlib
import logging
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections, transaction

logger = logging.getLogger(__name__)

TENANT_SETTING = "oms.tenant_id"
SYSTEM_SETTING = "oms.system"
POLICY_PREFIX = "oms_tenant_"


@dataclass(frozen=True)
class Scope:
    tenant_id: int | None = None
    system: bool = False

    def __str__(self) -> str:
        return "system" if self.system else (f"tenant={self.tenant_id}" if self.tenant_id else "none")


NONE = Scope()
SYSTEM = Scope(system=True)

# The scope of a connection nobody has scoped yet. Web and worker processes keep NONE; the test
# suite starts in SYSTEM (factories write rows of any tenant) and scopes requests like production.
_default = NONE


def set_default_scope(scope: Scope) -> None:
    global _default
    _default = scope


def _is_pg(conn) -> bool:
    return conn.vendor == "postgresql"


def current_scope(using: str = DEFAULT_DB_ALIAS) -> Scope:
    return getattr(connections[using], "oms_scope", _default)


def _send(conn, scope: Scope) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT set_config(%s, %s, false), set_config(%s, %s, false)",
                    [TENANT_SETTING, str(scope.tenant_id or ""), SYSTEM_SETTING, "on" if scope.system else "off"])


def _apply(conn, scope: Scope) -> None:
    conn.oms_scope = scope
    if _is_pg(conn) and conn.connection is not None:
        _send(conn, scope)
    # not connected yet: on_connection_created applies conn.oms_scope when it connects


def on_connection_created(sender, connection, **kwargs) -> None:
    """A new (or re-opened) connection starts in its thread's current scope."""
    if _is_pg(connection):
        _send(connection, getattr(connection, "oms_scope", _default))


@contextmanager
def scope(new: Scope, using: str = DEFAULT_DB_ALIAS):
    conn = connections[using]
    previous = getattr(conn, "oms_scope", _default)
    mine = Scope(tenant_id=new.tenant_id, system=new.system)  # an identity of its own: see below
    _apply(conn, mine)
    try:
        yield new
    finally:
        # Put back what was there -- unless the scope is no longer ours: a streamed response body
        # (oms.middleware) abandoned half-read and finalised later by the garbage collector, in the
        # middle of other work, must not impose a scope that stopped being the thread's long ago.
        if getattr(conn, "oms_scope", None) is mine:
            conn.oms_scope = previous
            if _is_pg(conn) and conn.connection is not None:
                try:
                    _send(conn, previous)
                except Exception:
                    # The transaction is aborted (an error inside it): its rollback restores the
                    # value from before it began, which is `previous` since scopes nest inside
                    # transactions. If it cannot, the connection is not worth keeping.
                    logger.warning("could not restore database scope %s; closing the connection", previous)
                    if not conn.in_atomic_block:
                        conn.close()


def tenant_scope(tenant_id: int, using: str = DEFAULT_DB_ALIAS):
    """Only this tenant's rows are visible and writable."""
    if not tenant_id:
        raise ValueError("tenant_scope needs a tenant id")
    return scope(Scope(tenant_id=int(tenant_id)), using)


def system_scope(using: str = DEFAULT_DB_ALIAS):
    """Every tenant's rows: only for code that is cross-tenant by design. Say why where you use it."""
    return scope(SYSTEM, using)


def no_scope(using: str = DEFAULT_DB_ALIAS):
    """No tenant rows at all (an anonymous request, a task that names no tenant)."""
    return scope(NONE, using)


# --- schema: which tables, and their policies ----------------------------------------------------

def tenant_tables() -> list[tuple[str, str]]:
    """(table, predicate) for every tenant-owned table: models inheriting TenantOwned (their
    tenant_id), and auto-created many-to-many tables of one (visible when the owning row is)."""
    from django.apps import apps

    from .models import TenantOwned

    visible = ("(tenant_id = (SELECT NULLIF(current_setting('oms.tenant_id', true), '')::bigint) "
               "OR (SELECT coalesce(current_setting('oms.system', true), '') = 'on'))")
    out: list[tuple[str, str]] = []
    for model in apps.get_models():
        if not model._meta.managed or model._meta.proxy or not issubclass(model, TenantOwned):
            continue
        out.append((model._meta.db_table, visible))
        for field in model._meta.local_many_to_many:
            through = field.remote_field.through
            if through._meta.auto_created:
                col = through._meta.get_field(field.m2m_field_name()).column
                out.append((through._meta.db_table,
                            f"EXISTS (SELECT 1 FROM {model._meta.db_table} o WHERE o.id = {col})"))
    return sorted(set(out))


def policy_name(predicate: str) -> str:
    """The policy's name carries a digest of its predicate: a changed predicate is a new name."""
    return f"{POLICY_PREFIX}{hashlib.sha1(predicate.encode()).hexdigest()[:8]}"


def apply_policies(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Enable and force RLS with the one policy on every tenant-owned table (idempotent; run as
    the tables' owner after every migrate, so a new tenant-owned model is covered the day it is
    created). Returns the tables whose policy was created or replaced."""
    conn = connections[using]
    if not _is_pg(conn):
        return []
    changed = []
    existing = set(conn.introspection.table_names())
    with transaction.atomic(using=using), conn.cursor() as cur:
        for table, predicate in tenant_tables():
            if table not in existing:
                continue
            name = policy_name(predicate)
            cur.execute("""SELECT c.relrowsecurity, c.relforcerowsecurity,
                                  array(SELECT p.polname FROM pg_policy p WHERE p.polrelid = c.oid)
                           FROM pg_class c WHERE c.oid = %s::regclass""", [table])
            enabled, forced, policies = cur.fetchone()
            if not enabled:
                cur.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
            if not forced:
                cur.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
            if name in policies:
                continue
            for old in policies:
                if old.startswith(POLICY_PREFIX):
                    cur.execute(f'DROP POLICY "{old}" ON "{table}"')
            cur.execute(f'CREATE POLICY "{name}" ON "{table}" USING ({predicate}) WITH CHECK ({predicate})')
            changed.append(table)
    return changed


def grant_app_role(role: str, using: str = DEFAULT_DB_ALIAS, password: str = "") -> None:
    """The application's login: exists, cannot bypass RLS, may read and write rows (not DDL).
    Default privileges cover tables the owner creates later; every migrate grants again."""
    conn = connections[using]
    if not _is_pg(conn) or not role:
        return
    q = conn.ops.quote_name
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cur.fetchone() is None:
            # CREATE ROLE takes no parameters: the password is a literal, quoted as PostgreSQL does;
            # the DO block tolerates a concurrent creator (parallel test databases, two deploys)
            pw = " PASSWORD " + "'" + password.replace("'", "''") + "'" if password else ""
            cur.execute(f"DO $oms$ BEGIN CREATE ROLE {q(role)} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB "
                        f"NOCREATEROLE{pw}; EXCEPTION WHEN duplicate_object THEN NULL; END $oms$")
            logger.info("created the application role %s", role)
        cur.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        row = cur.fetchone()
        if row[0] or row[1]:
            raise RuntimeError(f"the application role {role!r} is a superuser or BYPASSRLS: row-level "
                               "security would not apply to it; use an ordinary role")
        cur.execute("SELECT current_database(), current_schema()")
        db, schema = cur.fetchone()
        cur.execute(f"GRANT CONNECT ON DATABASE {q(db)} TO {q(role)}")
        cur.execute(f"GRANT USAGE ON SCHEMA {q(schema)} TO {q(role)}")
        cur.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {q(schema)} TO {q(role)}")
        cur.execute(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {q(schema)} TO {q(role)}")
        cur.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {q(schema)} "
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {q(role)}")
        cur.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {q(schema)} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {q(role)}")


def tables_missing_policy(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """Tenant-owned tables without RLS enabled, forced and our policy (empty is good)."""
    conn = connections[using]
    if not _is_pg(conn):
        return []
    missing = []
    with conn.cursor() as cur:
        for table, predicate in tenant_tables():
            cur.execute("""SELECT c.relrowsecurity AND c.relforcerowsecurity
                                  AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = %s)
                           FROM pg_class c WHERE c.oid = to_regclass(%s)""", [policy_name(predicate), table])
            row = cur.fetchone()
            if row and not row[0]:  # a table not created yet is the migrations' business
                missing.append(table)
    return missing


# --- Celery: one scope per task ------------------------------------------------------------------

def _task_scope(task, args, kwargs) -> Scope:
    import inspect

    tenant_id = (kwargs or {}).get("tenant_id")
    if tenant_id is None:
        try:
            bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
            tenant_id = bound.arguments.get("tenant_id")
        except TypeError:
            tenant_id = None
    if tenant_id:
        return Scope(tenant_id=int(tenant_id))
    if getattr(task, "oms_system_scope", False):
        return SYSTEM
    return NONE


_task_stacks: dict[str, list] = {}


def on_task_prerun(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    cm = scope(_task_scope(task or sender, args, kwargs))
    cm.__enter__()
    _task_stacks.setdefault(task_id, []).append(cm)


def on_task_postrun(sender=None, task_id=None, **_):
    stack = _task_stacks.get(task_id)
    if stack:
        stack.pop().__exit__(None, None, None)
        if not stack:
            _task_stacks.pop(task_id, None)


_migrating = False


@contextmanager
def migrating():
    """The migrate command's own system checks skip oms.E001: migrating is what fixes it."""
    global _migrating
    _migrating = True
    try:
        yield
    finally:
        _migrating = False


# --- roles: the owner migrates, the application role does everything else ------------------------

def owner_settings() -> dict | None:
    """USER/PASSWORD (and HOST/PORT when given) of DATABASE_OWNER_URL, or None when unset."""
    from django.conf import settings

    owner = getattr(settings, "DATABASE_OWNER", None)
    if not owner:
        return None
    return {k: owner[k] for k in ("USER", "PASSWORD", "HOST", "PORT") if owner.get(k) or k in ("USER", "PASSWORD")}


@contextmanager
def as_owner(using: str = DEFAULT_DB_ALIAS):
    """Run the block connected as the tables' owner (migrations, test database creation), then
    reconnect as the application role. Yields the application role's (user, password), or None
    when no separate owner is configured (then DATABASE_URL's role does both)."""
    conn = connections[using]
    owner = owner_settings()
    if not _is_pg(conn) or owner is None or owner["USER"] == conn.settings_dict.get("USER"):
        yield None
        return
    app = {k: conn.settings_dict.get(k) for k in owner}
    conn.close()
    conn.settings_dict.update(owner)
    try:
        yield app["USER"], app["PASSWORD"] or ""
    finally:
        conn.close()
        conn.settings_dict.update(app)


def check_policies(app_configs=None, databases=None, **kwargs):
    """`manage.py check --database default`: every tenant-owned table is under RLS."""
    from django.core.checks import Error

    errors = []
    if _migrating:
        return errors  # migrate is what applies them
    for alias in databases or ():
        missing = tables_missing_policy(alias)
        if missing:
            errors.append(Error(f"tenant-owned tables without row-level security: {', '.join(missing)}",
                                hint="run `manage.py migrate` as the owner (DATABASE_OWNER_URL); see docs/rls.md",
                                id="oms.E001"))
    return errors
