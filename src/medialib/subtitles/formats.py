"""The names subtitle files were read and written by before `codec`: kept for their callers.

New code uses `medialib.subtitles.codec` (`read_subtitles`, `write_subtitles`), which
also decodes bytes and reports line numbers; these are the same functions.
"""

from __future__ import annotations

from medialib.subtitles.codec import parse_subtitles as parse_subtitles, to_srt as to_srt, to_webvtt as to_webvtt
