"""The English catalogues are complete, no catalogue has fuzzy entries, and the console speaks English when asked."""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

HAN = re.compile(r"[\u4e00-\u9fff]")
# Chinese may appear only inside examples: JSON samples of province names (["浙江省", "上海市"]) and quoted
# keywords or SMS texts (“顺丰,SF”)
EXAMPLES = re.compile(r"\[[^\]]*\]|“[^”]*”")
SKIP_DIRS = {"node_modules", "__pycache__", "static", "media"}


def _catalogues(lang: str = "*") -> list[Path]:
    """Every django.po of the project: the root locale/ and each app's <app>/locale/ (virtualenvs left out)."""
    base = Path(settings.BASE_DIR)
    found = []
    for root, dirs, _files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        if Path(root).name == "locale":
            found += sorted(Path(root).glob(f"{lang}/LC_MESSAGES/django.po"))
            dirs[:] = []
    return found


def _entries(path: Path, *, header: bool = False):
    text = path.read_text(encoding="utf-8")
    for block in text.split("\n\n")[0 if header else 1:]:
        if block.startswith("#~") or not re.search(r"^msgid ", block, re.M):
            continue
        yield block


def test_every_english_msgstr_is_filled_in_and_is_english():
    base = Path(settings.BASE_DIR)
    english = _catalogues("en")
    assert base / "locale" / "en" / "LC_MESSAGES" / "django.po" in english
    assert base / "logistics" / "locale" / "en" / "LC_MESSAGES" / "django.po" in english
    empty, chinese, missing_mo = [], [], []
    for po in english:
        where = po.relative_to(base)
        for block in _entries(po):
            strs = re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', block + "\n", re.M)
            joined = ["".join(re.findall(r'"(.*)"', s)) for s in strs]
            if any(s == "" for s in joined):
                empty.append(f"{where}: {block[:120]}")
            if any(HAN.search(EXAMPLES.sub("", s)) for s in joined):
                chinese.append(f"{where}: {block[:120]}")
        if not po.with_suffix(".mo").exists():
            missing_mo.append(str(where))
    # msgfmt leaves fuzzy entries out of the .mo: the string would silently fall back to the Chinese msgid
    fuzzy = [f"{po.relative_to(base)}: {block[:120]}" for po in _catalogues() for block in _entries(po, header=True)
             if re.search(r"^#,.*\bfuzzy\b", block, re.M)]
    assert not empty, empty[:5]
    assert not chinese, chinese[:5]
    assert not fuzzy, fuzzy[:5]
    assert not missing_mo, missing_mo


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
