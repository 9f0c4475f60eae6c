"""Credentials at rest: Fernet (cryptography), keyed from settings."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(key: str, secret: str) -> Fernet:
    if key:
        return Fernet(key.encode())
    derived = base64.urlsafe_b64encode(hashlib.sha256(("oms-credentials:" + secret).encode()).digest())
    return Fernet(derived)


def fernet() -> Fernet:
    return _fernet(settings.OMS_CREDENTIALS_KEY, settings.SECRET_KEY)


def encrypt_json(value: dict) -> str:
    return fernet().encrypt(json.dumps(value, ensure_ascii=False, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError("credentials cannot be decrypted with the configured key") from exc


def mask(value: str) -> str:
    value = str(value or "")
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


class EncryptedJSONField(models.TextField):
    """A dict stored as a Fernet token. The database never sees the plain text."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return {}
        return decrypt_json(value)

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        try:
            return decrypt_json(value)
        except ValueError:
            return json.loads(value)

    def get_prep_value(self, value):
        if value is None:
            value = {}
        return encrypt_json(value)

    def value_to_string(self, obj):  # serialisation (dumpdata) keeps the ciphertext
        return self.get_prep_value(self.value_from_object(obj))
