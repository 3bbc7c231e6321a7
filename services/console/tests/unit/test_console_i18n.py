"""The message catalogues: complete, current with the sources, compiled at start-up."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from console.adapters.i18n import LOCALES_DIR, Catalogues, pick_language

SOURCE = LOCALES_DIR.parent
CONFIG = Path(__file__).resolve().parents[2] / "babel.cfg"


def _ids(path: Path, locale: str | None = None) -> dict[str, str]:
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    return {str(m.id): str(m.string) for m in catalog if m.id}


def test_every_message_has_a_chinese_and_an_english_text() -> None:
    template = _ids(LOCALES_DIR / "messages.pot")
    for locale in ("zh_CN", "en"):
        texts = _ids(LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po", locale)
        assert set(texts) == set(template), locale
        assert [m for m, s in texts.items() if not s] == [], locale


def test_the_template_holds_every_message_the_sources_use() -> None:
    """Run `pybabel extract` (see babel.cfg) when this fails."""
    from babel.messages.frontend import parse_mapping_cfg

    with CONFIG.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    used = {
        msg if isinstance(msg, str) else msg[0]
        for _file, _line, msg, _comments, _context in extract_from_dir(
            SOURCE,
            method_map,
            options_map,
            keywords={"_": None, "N_": None, "gettext": None},
        )
    }
    assert used == set(_ids(LOCALES_DIR / "messages.pot"))


def test_catalogues_compile_and_translate() -> None:
    catalogues = Catalogues()
    assert catalogues.gettext("zh-CN")("Closed") == "已结案"
    assert catalogues.gettext("en")("File (立案)") == "File"
    assert catalogues.gettext("fr")("Closed") == "已结案"  # unknown: the default language


def test_language_choice() -> None:
    assert pick_language(None, None, "en-US,en;q=0.8") == "en"
    assert pick_language("en", "zh-CN", None) == "en"
    assert pick_language(None, "zh-CN", "en") == "zh-CN"
    assert pick_language(None, None, "zh-TW") == "zh-CN"
    assert pick_language("fr", None, None) == "zh-CN"
