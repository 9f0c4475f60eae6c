"""E-mail over real SMTP to a small fake server on loopback: delivery, a temporarily unavailable
server (retried later) and a refused recipient (failed at once)."""

import socketserver
import threading

import pytest
from django.utils import timezone

from notifications import services
from notifications.models import Notification
from tests.factories_notifications import ContactFactory

pytestmark = pytest.mark.django_db


class FakeSmtp:
    """Speaks enough RFC 5321 for smtplib: greeting, EHLO, MAIL, RCPT, DATA, QUIT.
    mode: "ok", "unavailable" (421 greeting) or "refuse" (550 on RCPT)."""

    def __init__(self):
        self.mode = "ok"
        self.messages: list[dict] = []
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line):
                self.wfile.write((line + "\r\n").encode())

            def handle(self):
                if fake.mode == "unavailable":
                    self.reply("421 4.3.2 Service not available, try later")
                    return
                self.reply("220 fake.smtp ESMTP")
                envelope = {"from": "", "to": [], "data": ""}
                while True:
                    line = self.rfile.readline().decode("utf-8", "replace")
                    if not line:
                        return
                    cmd = line.strip().upper()
                    if cmd.startswith(("EHLO", "HELO")):
                        self.reply("250 fake.smtp")
                    elif cmd.startswith("MAIL FROM"):
                        envelope["from"] = line.split(":", 1)[1].strip()
                        self.reply("250 OK")
                    elif cmd.startswith("RCPT TO"):
                        if fake.mode == "refuse":
                            self.reply("550 5.1.1 No such user")
                        else:
                            envelope["to"].append(line.split(":", 1)[1].strip().strip("<>"))
                            self.reply("250 OK")
                    elif cmd == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        chunks = []
                        while True:
                            data_line = self.rfile.readline().decode("utf-8", "replace")
                            if data_line in (".\r\n", ".\n", ""):
                                break
                            chunks.append(data_line)
                        envelope["data"] = "".join(chunks)
                        fake.messages.append(dict(envelope))
                        self.reply("250 OK queued")
                    elif cmd == "QUIT":
                        self.reply("221 Bye")
                        return
                    elif cmd == "RSET":
                        self.reply("250 OK")
                    else:
                        self.reply("502 Command not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp(settings):
    fake = FakeSmtp().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", fake.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "oms@example.com"
    try:
        yield fake
    finally:
        fake.stop()


def _alert(tenant):
    from tests import factories

    contact = ContactFactory(tenant=tenant, name="王采购", email="buyer@example.com")
    sku = factories.SkuFactory(tenant=tenant, code="CUP-01", name="马克杯")
    [n] = services.notify_low_stock(tenant_id=tenant.pk, alert_id=7, sku_id=sku.pk, warehouse_id=None, available=0,
                                    reorder_point=4)
    return contact, n


def test_an_alert_goes_out_over_smtp(tenant, smtp):
    contact, n = _alert(tenant)
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)
    assert row.status == "sent" and row.provider_message_id.startswith("<")
    [msg] = smtp.messages
    assert msg["to"] == [contact.email]
    assert f"X-OMS-Notification: {n.pk}" in msg["data"]
    assert "Subject:" in msg["data"]


def test_an_unavailable_smtp_server_is_retried_later(tenant, smtp):
    _, n = _alert(tenant)
    smtp.mode = "unavailable"
    now = timezone.now()
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=now)
    assert row.status == "queued" and row.attempts == 1 and "SMTP" in row.error
    assert row.next_attempt_at > now
    smtp.mode = "ok"
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk, now=row.next_attempt_at)
    assert row.status == "sent" and len(smtp.messages) == 1


def test_a_refused_recipient_fails_at_once(tenant, smtp):
    _, n = _alert(tenant)
    smtp.mode = "refuse"
    row = services.notification_send(tenant_id=tenant.pk, notification_id=n.pk)
    assert row.status == Notification.Status.FAILED and row.attempts == 1
    assert smtp.messages == []
