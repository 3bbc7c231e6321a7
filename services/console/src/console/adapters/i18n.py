"""Babel message catalogues: zh-CN (the default) and English.

The .po files under `console/locales/<locale>/LC_MESSAGES/messages.po` are the
source; they are compiled in memory at start-up (babel.messages.mofile), so
there is no separate build step and no .mo file to go stale. Message ids are
English; `messages.pot` is extracted with `python -m console extract-messages`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
LANGUAGES = {"zh-CN": "zh_CN", "en": "en"}
DEFAULT_LANGUAGE = "zh-CN"


def compile_po(po_path: Path) -> Translations:
    """A .po file compiled to a .mo in memory and loaded."""
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=po_path.parents[1].name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain="messages")


class Catalogues:
    """One compiled catalogue per language."""

    def __init__(self, locales_dir: Path = LOCALES_DIR) -> None:
        self._translations: dict[str, NullTranslations] = {}
        for lang, locale in LANGUAGES.items():
            po = locales_dir / locale / "LC_MESSAGES" / "messages.po"
            self._translations[lang] = compile_po(po) if po.exists() else NullTranslations()

    def gettext(self, lang: str) -> Callable[[str], str]:
        return self._translations.get(lang, self._translations[DEFAULT_LANGUAGE]).gettext

    def ngettext(self, lang: str) -> Callable[[str, str, int], str]:
        return self._translations.get(lang, self._translations[DEFAULT_LANGUAGE]).ngettext


def pick_language(*choices: str | None) -> str:
    """The first supported language among the choices (query, cookie, Accept-Language)."""
    for choice in choices:
        if not choice:
            continue
        for part in choice.split(","):
            tag = part.split(";")[0].strip()
            if tag in LANGUAGES:
                return tag
            if tag.lower().startswith("zh"):
                return "zh-CN"
            if tag.lower().startswith("en"):
                return "en"
    return DEFAULT_LANGUAGE
