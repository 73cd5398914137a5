"""The error tree: user mistakes (exit 2, 4xx) apart from operator and server faults (exit 1, 5xx)."""

from __future__ import annotations

from medialib.errors import (
    ConfigError,
    InputError,
    MedialibError,
    NotFoundError,
    OperatorError,
    ToolError,
    TransientError,
)

# ---------------------------------------------------------------- the tree


def test_user_mistakes_are_4xx_and_everything_else_5xx():
    assert InputError.http_status == 422 and NotFoundError.http_status == 404
    for cls in (MedialibError, OperatorError, ConfigError, ToolError):
        assert cls.http_status == 500
    assert TransientError.http_status == 503
    for cls in (OperatorError, ConfigError, ToolError, TransientError):
        assert not issubclass(cls, InputError)
    assert issubclass(ConfigError, OperatorError) and issubclass(NotFoundError, InputError)
