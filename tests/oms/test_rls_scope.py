"""The database scope's bookkeeping (oms/rls.py), on any database: a streamed body abandoned
half-read and finalised late must not impose its scope on whatever runs at that moment."""

import pytest
from django.db import connection

from oms import rls
from oms.middleware import _scoped


@pytest.mark.django_db
def test_a_streamed_body_finalised_late_leaves_the_current_scope_alone():
    before = rls.current_scope()
    try:
        body = _scoped(rls.Scope(tenant_id=1), iter(["a", "b"]))
        assert next(body) == "a"  # half read: the body's scope is the thread's now
        assert rls.current_scope() == rls.Scope(tenant_id=1)
        with rls.tenant_scope(2):
            body.close()  # finalised (as by the garbage collector) while tenant 2's work runs
            assert rls.current_scope() == rls.Scope(tenant_id=2)
    finally:
        rls._apply(connection, before)


@pytest.mark.django_db
def test_nested_scopes_unwind_in_order():
    before = rls.current_scope()
    with rls.system_scope():
        with rls.tenant_scope(3):
            with rls.no_scope():
                assert rls.current_scope() == rls.NONE
            assert rls.current_scope() == rls.Scope(tenant_id=3)
        assert rls.current_scope() == rls.SYSTEM
    assert rls.current_scope() == before


@pytest.mark.django_db
def test_a_body_read_to_the_end_puts_the_scope_back():
    before = rls.current_scope()
    assert list(_scoped(rls.Scope(tenant_id=4), iter(["x", "y"]))) == ["x", "y"]
    assert rls.current_scope() == before
