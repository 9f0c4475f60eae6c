"""The English catalogue is complete and the console speaks English when asked."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

HAN = re.compile(r"[\u4e00-\u9fff]")


def _entries(path: Path):
    text = path.read_text(encoding="utf-8")
    for block in text.split("\n\n")[1:]:
        if block.startswith("#~"):
            continue
        yield block


def test_every_english_msgstr_is_filled_in_and_is_english():
    po = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
    empty, chinese = [], []
    for block in _entries(po):
        strs = re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', block + "\n", re.M)
        joined = ["".join(re.findall(r'"(.*)"', s)) for s in strs]
        if any(s == "" for s in joined):
            empty.append(block[:120])
        # Chinese may appear only inside examples (province names in JSON samples, SMS brackets)
        if any(HAN.search(re.sub(r"\[[^\]]*\]|“[^”]*”", "", s)) for s in joined):
            chinese.append(block[:120])
    assert not empty, empty[:5]
    assert not chinese, chinese[:5]
    assert (po.with_suffix(".mo")).exists()


@pytest.fixture
def back_to_chinese():
    yield
    translation.activate(settings.LANGUAGE_CODE)  # the middleware left English active in this thread


@pytest.mark.django_db
def test_the_worklist_in_english(tenant, owner_client, back_to_chinese):
    owner_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = owner_client.get(reverse("orders:worklist", args=["pending_review"])).content.decode()
    assert "Pending review" in html and "To ship" in html and "Bulk action" in html
    assert "待审核" not in html
