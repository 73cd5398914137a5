"""S3 failures as actionable errors: every botocore failure becomes one message that names the
bucket, the key, the endpoint and the next step, typed as a user mistake (an object that is
not there), an operator fault (keys, buckets, permissions, local disk) or a transient error.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from medialib.errors import InputError, MedialibError, NotFoundError, OperatorError, TransientError

log = logging.getLogger(__name__)


_TRANSIENT_CODES = frozenset({
    "SlowDown", "Throttling", "ThrottlingException", "RequestThrottled", "TooManyRequests",
    "TooManyRequestsException", "RequestLimitExceeded", "RequestTimeout", "RequestTimeoutException",
    "InternalError", "InternalServerError", "ServiceUnavailable", "OperationAborted",
    "500", "502", "503", "504",
})


ACCESS_CODES = frozenset({"AccessDenied", "403", "AllAccessDisabled", "AccountProblem"})


_INPUT_CODES = frozenset({"EntityTooLarge", "EntityTooSmall", "KeyTooLongError"})  # the user's file or name


_UPLOAD_CODE_RE = re.compile(r"An error occurred \(([A-Za-z0-9.]+)\)")


def _where(bucket: str, key: str, endpoint: str) -> str:
    obj = f"s3://{bucket}/{key}" if key else f"bucket {bucket!r}" if bucket else "S3"
    return f"{obj} at {endpoint}" if endpoint else obj


def _client_error(code: str, status: int, message: str, action: str, bucket: str, key: str,
                  endpoint: str) -> MedialibError:
    where = _where(bucket, key, endpoint)
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientError(f"{action} {where}: the server is busy or failing ({code}); retry later")
    if code == "NoSuchBucket":
        return OperatorError(f"{action} {where}: bucket {bucket!r} does not exist; check storage.archive_bucket and "
                          "storage.publish_bucket, or run `medialib storage up` to create the buckets")
    if code == "InvalidAccessKeyId":
        return OperatorError(f"{action} {where}: the server does not know the access key; "
                             "check storage.access_key_id for this endpoint")
    if code == "SignatureDoesNotMatch":
        return OperatorError(f"{action} {where}: the request signature was refused; "
                             "check storage.secret_access_key and storage.region")
    if code in ACCESS_CODES:
        return OperatorError(f"{action} {where}: access denied; check the keys in storage.access_key_id/"
                             "secret_access_key and that they may use this bucket")
    if code in ("NoSuchKey", "404", "NotFound"):
        return NotFoundError(f"{action} {where}: no such object")
    if code in _INPUT_CODES:
        return InputError(f"{action} {where}: {code}: {message or 'refused'}")
    # Any other refusal is about how this installation talks to its storage, not the user's data.
    return OperatorError(f"{action} {where}: {code}: {message or 'refused'}; check the storage settings")


@contextlib.contextmanager
def wrap_errors(action: str = "S3 request", *, bucket: str = "", key: str = "", endpoint: str = "") -> Iterator[None]:
    """Turn botocore/boto3 and local file errors into medialib's error tree (also a decorator).

    Connection errors, timeouts, 5xx and throttling become TransientError (the flows retry
    those); a missing object is a NotFoundError, an object too large for the service an InputError;
    keys, buckets, permissions and local disk trouble are OperatorErrors. Each names the bucket
    and endpoint.
    """
    try:
        yield
    except MedialibError:
        raise
    except ClientError as e:
        err = e.response.get("Error", {})
        status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        raise _client_error(str(err.get("Code", status)), status, str(err.get("Message", "")),
                            action, bucket, key, endpoint) from e
    except S3UploadFailedError as e:
        # boto3's upload_file folds the ClientError into a message; the cause still has the code.
        cause = e.__cause__ or e.__context__
        if isinstance(cause, ClientError):
            err = cause.response.get("Error", {})
            status = int(cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            raise _client_error(str(err.get("Code", status)), status, str(err.get("Message", "")),
                                action, bucket, key, endpoint) from e
        m = _UPLOAD_CODE_RE.search(str(e))
        code = m.group(1) if m else "UploadFailed"
        status = int(code) if code.isdigit() else 0
        raise _client_error(code, status, str(e), action, bucket, key, endpoint) from e
    except (NoCredentialsError, PartialCredentialsError) as e:
        raise OperatorError(f"{action} {_where(bucket, key, endpoint)}: no S3 credentials; set "
                            "storage.access_key_id and storage.secret_access_key (or AWS_* variables)") from e
    except (BotoConnectionError, HTTPClientError) as e:
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError...
        raise TransientError(f"{action} {_where(bucket, key, endpoint)}: cannot reach the S3 server ({e}); "
                             "check storage.endpoint_url and that the server runs (`medialib storage status`)") from e
    except BotoCoreError as e:  # an invalid endpoint URL or bucket name, a parameter botocore refuses
        raise OperatorError(f"{action} {_where(bucket, key, endpoint)}: {e}") from e
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
        name = e.filename or "local file"
        raise InputError(f"{name}: {e.strerror or e}; check the path") from e
    except OSError as e:  # permissions, a full or read-only disk: this machine's state
        name = e.filename or "local file"
        raise OperatorError(f"{name}: {e.strerror or e}; check the folder's permissions and free disk space") from e


def endpoint_of(client) -> str:
    return getattr(getattr(client, "meta", None), "endpoint_url", "") or ""


def error_code(e: ClientError) -> str:
    return str(e.response.get("Error", {}).get("Code", ""))


def http_status(e: ClientError) -> int:
    return int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def is_missing(e: ClientError) -> bool:
    return error_code(e) in ("404", "NoSuchKey", "NotFound") or (http_status(e) == 404 and error_code(e) != "NoSuchBucket")
