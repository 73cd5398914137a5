"""The one error tree of medialib.

    MedialibError            anything medialib raises on purpose                      500
    ├── InputError           the user's file, data or request is wrong; fix it, retry   422
    │   ├── NotFoundError    the file, object or lecture asked for does not exist      404
    │   ├── ConflictError    the request is based on a state that has since changed    409
    │   │                    (someone saved a newer version): reload, then decide
    │   └── PermissionDenied this user's role may not do this (approve, publish)       403
    ├── OperatorError        the installation or a service it needs is wrong (keys,     500
    │   │                    buckets, ffmpeg, model weights, work objects); the
    │   │                    operator must fix it, the user cannot, retrying cannot help
    │   └── ConfigError      a setting is missing or invalid (config file, MEDIALIB_*)  500
    ├── ToolError            an external tool (ffmpeg, weed) failed; argv and stderr    500
    │                        tail attached
    └── TransientError       network, throttling, a server still starting: the only     503
                             thing retried

The number is each class's `http_status`, a hint for web front ends: user mistakes
are 4xx, operator and server faults 5xx, so a web app needs no table of its own. The CLI
exits 2 for InputError and 1 for every other MedialibError.

A bad setting is an operator fault: whoever runs medialib wrote it, and a user of the
web app or of a shared installation cannot fix it.

Messages name what failed, the value, and the next step, e.g.
``lecture.mov: no audio stream; re-export the recording with its sound track``.
"""

from __future__ import annotations

from collections.abc import Sequence


class MedialibError(Exception):
    """Base class: the CLI prints these as one line, without a traceback."""

    http_status = 500


class InputError(MedialibError):
    """The recording, its metadata or the user's request is wrong."""

    http_status = 422


class NotFoundError(InputError):
    """What the user asked for (a file, an object, a lecture) does not exist."""

    http_status = 404


class ConflictError(InputError):
    """The request was made against a state that changed meanwhile (a newer version was saved)."""

    http_status = 409


class PermissionDenied(InputError):
    """The user is known but their role may not do this; another account can."""

    http_status = 403


class OperatorError(MedialibError):
    """The installation, its settings or a service it depends on is wrong; only the operator can fix it."""

    http_status = 500


class ConfigError(OperatorError):
    """A setting is missing or invalid."""


class ToolError(MedialibError):
    """An external program failed; keeps the command and the end of its stderr."""

    http_status = 500

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

    http_status = 503


def is_transient(exc: BaseException) -> bool:
    """True for errors worth a retry; used by the flows' retry conditions."""
    return isinstance(exc, TransientError)


def through_hiccups(call, delays):
    """call(), again after each delay while it fails with a TransientError: a task's retries
    for the few storage reads a flow makes outside its tasks."""
    import time

    for delay in [*delays, None]:
        try:
            return call()
        except TransientError:
            if delay is None:
                raise
            time.sleep(delay)
