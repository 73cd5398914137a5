"""Times written out for people: cue timestamps in messages and VTT, lecture lengths on pages."""

from __future__ import annotations


def format_timestamp_ms(ms: int) -> str:
    """Milliseconds as HH:MM:SS.mmm (WebVTT's form); hours grow past 99 rather than wrap."""
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def format_duration_s(seconds: float) -> str:
    """Seconds as 1:02:03, or 2:03 under an hour: a length the way players show it."""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
