"""What staff and the public see of a buyer's contact details: masks for phone numbers, names and
e-mail addresses. Pages, documents and logs show these; the full value stays in the order and in
the message sent to the buyer."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """138****8000; the last four digits of a shorter number; **** when there are none."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if len(digits) >= 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 4:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "****"


def mask_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def mask_email(email: str) -> str:
    """a***e@example.com: the first and last character of the local part and the whole domain
    (a***@example.com when the local part is one or two characters); "" for none."""
    email = (email or "").strip()
    if not email:
        return ""
    local, at, domain = email.rpartition("@")
    if not at or not local:
        return "***"
    if len(local) <= 2:
        return f"{local[0]}***@{domain}"
    return f"{local[0]}***{local[-1]}@{domain}"
