"""The one error tree of medialib.

    MedialibError            anything medialib raises on purpose
    ├── InputError           the file or the user's data is wrong; retrying cannot help
    ├── ToolError            an external tool (ffmpeg, weed) failed; argv and stderr tail attached
    └── TransientError       network, throttling, a server still starting: the only thing retried

Messages name what failed, the value, and the next step, e.g.
``lecture.mov: no audio stream; re-export the recording with its sound track``.
"""

from __future__ import annotations

from collections.abc import Sequence


class MedialibError(Exception):
    """Base class: the CLI prints these as one line, without a traceback."""


class InputError(MedialibError):
    """The recording, its metadata or the user's request is wrong."""


class ConfigError(InputError):
    """A setting is missing or invalid."""


class ToolError(MedialibError):
    """An external program failed; keeps the command and the end of its stderr."""

    def __init__(self, message: str, argv: Sequence[str] = (), stderr: str = "", returncode: int | None = None):
        super().__init__(message)
        self.argv = tuple(argv)
        self.stderr_tail = stderr[-4000:]
        self.returncode = returncode

    def __str__(self) -> str:
        base = super().__str__()
        last = self.stderr_tail.strip().splitlines()[-1:] if self.stderr_tail else []
        return f"{base}: {last[0]}" if last else base


class TransientError(MedialibError):
    """A failure a retry can fix (network, throttling, a server starting up)."""


def is_transient(exc: BaseException) -> bool:
    """True for errors worth a retry; used by the flows' retry conditions."""
    return isinstance(exc, TransientError)
