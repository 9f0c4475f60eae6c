"""Serve the fake Aliyun SMS endpoint in the foreground (demo): point a tenant's SmsAccount at
http://127.0.0.1:<port>/ with the same AccessKeyId/secret given here."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from notifications.sandbox import SmsSandboxServer


class Command(BaseCommand):
    help = "Run the Aliyun SMS sandbox (SendSms) on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8766)
        parser.add_argument("--account", action="append", default=[],
                            help="ACCESS_KEY_ID:ACCESS_KEY_SECRET accepted by the sandbox (repeatable)")

    def handle(self, *args, port: int, account: list[str], **kwargs):
        server = SmsSandboxServer(port=port)
        for item in account or ["demo-sms-key:demo-sms-secret"]:
            key, sep, secret = item.partition(":")
            if not sep or not key or not secret:
                raise CommandError(f"--account must be ID:SECRET, got {item!r}")
            server.state.add_account(key, secret)
        self.stdout.write(f"Aliyun SMS sandbox on {server.url} (state: {server.url}_control/state)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
