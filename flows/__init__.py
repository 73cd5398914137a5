"""Prefect flows: thin wiring of medialib's stages into tasks with retries and caching.

Prefect settings that matter on one machine are given defaults here, before prefect is
imported (an operator's own environment wins): no telemetry, a generous start-up
timeout for the ephemeral server, and medialib's own logs forwarded to run logs.
"""

import os

from medialib.config import medialib_home

for _name, _value in {
    "DO_NOT_TRACK": "1",                                      # no analytics leave the machine
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",  # the 20 s default times out under load
    "PREFECT_LOGGING_EXTRA_LOGGERS": "medialib",
    "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",      # library calls outside a run log locally only
    "PREFECT_HOME": str(medialib_home() / "prefect"),        # run history and cached results beside our data
}.items():
    os.environ.setdefault(_name, _value)

if os.environ.get("PREFECT__FLOW_RUN_ID"):
    # A run process a worker started: it (and its ffmpeg) ends when the worker does, from
    # the moment the flow's module loads (see medialib.procs).
    from medialib.procs import die_with_parent

    die_with_parent()

# Prefect creates its home without parents; on a new machine ~/.local/share/medialib may not exist yet.
os.makedirs(os.environ["PREFECT_HOME"], exist_ok=True)

from . import results as results  # noqa: E402  (registers the result-storage block type in every run process)
