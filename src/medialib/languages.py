"""Language codes and names: each language named in itself, as learners look for it.
"""

from __future__ import annotations

LANGUAGE_NAMES = {  # each language named in itself, as learners look for it
    "en": "English", "ru": "Русский", "uk": "Українська", "de": "Deutsch", "fr": "Français",
    "es": "Español", "it": "Italiano", "pl": "Polski", "tr": "Türkçe", "kk": "Қазақша",
    "ka": "ქართული", "hy": "Հայերեն", "az": "Azərbaycan", "ro": "Română", "sr": "Српски",
}


INTERPRETATION_LABEL = {"ru": "синхронный перевод", "en": "interpretation", "uk": "синхронний переклад",
                        "de": "Verdolmetschung", "fr": "interprétation"}


def language_name(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def audio_rendition_name(role: str, language: str | None) -> str:
    """'English' for the floor; 'Русский (синхронный перевод)' for an interpreter's channel."""
    if not language:
        return "Audio" if role == "floor" else "Interpretation"
    name = language_name(language)
    if role == "interpretation":
        return f"{name} ({INTERPRETATION_LABEL.get(language, 'interpretation')})"
    return name
