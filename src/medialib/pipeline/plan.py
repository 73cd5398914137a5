"""Which audio stream is which, and where each subtitle language will come from.

Staff say which stream is the floor and which carries interpretation
(`--audio 0:floor --audio 1:interpretation:ru`). Each published language then gets the
best source this machine can offer, in this order:

    asr                 the floor's own language, transcribed
    interpretation      a human interpreter's track in that language, transcribed
    machine-translation an installed Argos package src->dst (or a pivot through English)
    speech-translation  Whisper's task="translate" (to English only)
    missing             none of the above; the manifest says why and how to fix it
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from medialib.errors import InputError
from medialib.media.records import MediaInfo
from medialib.speech.whisper import check_language

ROLES = ("floor", "interpretation")


@dataclass(frozen=True)
class AudioRole:
    stream: int                # index among the recording's audio streams
    role: str                  # "floor" | "interpretation"
    language: str | None       # given by staff, else detected (floor) / required (interpretation)


@dataclass(frozen=True)
class LanguagePlan:
    language: str
    source: str                # asr | interpretation | machine-translation | speech-translation | missing
    detail: str = ""           # the interpretation stream, the Argos route, or why it is missing
    fix: str = ""              # for missing: the exact command that fixes it


def _parse_spec(spec: str) -> tuple[int, str, str | None]:
    """(stream, role, language) from `N:floor[:lang]` / `N:interpretation:lang`; the language must be Whisper's."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0].isdigit() or parts[1] not in ROLES:
        raise InputError(f"--audio {spec!r}: expected STREAM:floor[:LANG] or STREAM:interpretation:LANG, "
                         "e.g. --audio 0:floor --audio 1:interpretation:ru")
    language = check_language(parts[2], f"--audio {spec!r}: language") if len(parts) == 3 and parts[2] else None
    return int(parts[0]), parts[1], language


def check_audio_specs(specs: Sequence[str]) -> None:
    """The --audio values' form and languages, before the recording is read (stream counts come later)."""
    for spec in specs:
        _parse_spec(spec)


def parse_audio_roles(specs: Sequence[str], info: MediaInfo, floor_language: str | None = None) -> tuple[AudioRole, ...]:
    """Parse `N:floor[:lang]` / `N:interpretation:lang`; default: stream 0 is the floor."""
    n = len(info.audio)
    if not specs:
        return (AudioRole(0, "floor", floor_language),) if n else ()
    roles: list[AudioRole] = []
    for spec in specs:
        stream, role, language = _parse_spec(spec)
        if stream >= n:
            raise InputError(f"--audio {spec!r}: {info.name} has {n} audio stream{'s' if n != 1 else ''} "
                             f"(0..{n - 1}); pick one of those")
        if role == "interpretation" and not language:
            raise InputError(f"--audio {spec!r}: say the interpretation's language, e.g. {stream}:interpretation:ru")
        if role == "floor" and language is None:
            language = floor_language
        roles.append(AudioRole(stream, role, language))
    floors = [r for r in roles if r.role == "floor"]
    if len(floors) != 1:
        raise InputError(f"--audio: name exactly one floor stream (got {len(floors)}), e.g. --audio 0:floor")
    streams = [r.stream for r in roles]
    if len(set(streams)) != len(streams):
        raise InputError(f"--audio: stream {max(set(streams), key=streams.count)} is given two roles; give each one")
    return tuple(sorted(roles, key=lambda r: (r.role != "floor", r.stream)))


def floor_role(roles: Sequence[AudioRole]) -> AudioRole | None:
    return next((r for r in roles if r.role == "floor"), None)


def plan_languages(floor_language: str | None, targets: Sequence[str], interpretations: Sequence[AudioRole],
                   route: Callable[[str, str], str | None]) -> tuple[LanguagePlan, ...]:
    """Choose a source for every target language (see the module docstring for the order).

    route(src, dst) names an installed Argos route ("en->ru", "ru->en->de") or None.
    """
    if not floor_language:
        return ()
    langs = list(dict.fromkeys([floor_language, *targets, *(r.language for r in interpretations if r.language)]))
    plans = []
    for lang in langs:
        interp = next((r for r in interpretations if r.language == lang), None)
        if lang == floor_language:
            plans.append(LanguagePlan(lang, "asr"))
        elif interp is not None:
            plans.append(LanguagePlan(lang, "interpretation", f"audio stream {interp.stream}"))
        elif (r := route(floor_language, lang)) is not None:
            plans.append(LanguagePlan(lang, "machine-translation", r))
        elif lang == "en":
            plans.append(LanguagePlan(lang, "speech-translation", "Whisper task=translate"))
        else:
            plans.append(LanguagePlan(
                lang, "missing",
                f"no interpreter track in {lang} and no Argos package {floor_language}->{lang} "
                f"(nor {floor_language}->en->{lang}) is installed",
                f"medialib models install argos {floor_language} {lang}"))
    return tuple(plans)
