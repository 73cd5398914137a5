"""Settings: the defaults shipped in the package, then a user file, then MEDIALIB_* environment variables.

The defaults (`medialib/defaults/default.toml`, and the glossary beside it) are package
data, so a wheel-installed worker has them; `config/` at the top of the source tree
links to the same files, for users to copy from.

Parsed once into a validated, frozen `Settings`. Library functions take the narrow
section they need (`LadderOptions`, `SpeechOptions`, ...), never the whole settings
and never os.environ.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from medialib.errors import ConfigError

DEFAULTS_DIR = Path(__file__).resolve().with_name("defaults")  # package data: one source of truth
ENV_PREFIX = "MEDIALIB_"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StorageOptions(_Section):
    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str
    archive_bucket: str
    publish_bucket: str
    public_base_url: str
    manage_bucket_policy: bool
    cors_allowed_origins: tuple[str, ...]
    upload_workers: int = Field(ge=1, le=64)
    multipart_threshold_mb: int = Field(ge=5)

    @property
    def embedded(self) -> bool:
        return not self.endpoint_url


class EmbeddedOptions(_Section):
    data_dir: str
    host: str
    s3_port: int = Field(ge=0, le=65535)
    memory_limit: str
    start_timeout_s: float = Field(gt=0)
    log_max_size_mb: int = Field(ge=1)
    log_max_files: int = Field(ge=1)


class Rung(_Section):
    height: int = Field(ge=144, le=4320)
    video_bitrate_kbps: int = Field(ge=100)


class LadderOptions(_Section):
    preset: str
    lower_preset: str
    segment_s: float = Field(gt=0)
    gop_s: float = Field(gt=0)
    audio_bitrate_kbps: int = Field(ge=32)
    audio_sample_rate: int
    timeout_s: float = Field(gt=0)
    rungs: tuple[Rung, ...]

    @field_validator("rungs")
    @classmethod
    def _rungs_nonempty(cls, v):
        if not v:
            raise ValueError("the ladder needs at least one rung")
        return tuple(sorted(v, key=lambda r: -r.height))


class SpeechOptions(_Section):
    model: str
    device: str
    compute_type: str
    cpu_threads: int = Field(ge=0)
    beam_size: int = Field(ge=1)
    vad: bool
    vad_min_silence_ms: int = Field(ge=0)
    batch_size: int = Field(ge=1, le=64)
    language: str
    no_speech_threshold: float
    log_prob_threshold: float
    compression_ratio_threshold: float
    min_word_probability: float = Field(ge=0, le=1)
    max_repeats: int = Field(ge=1)


class SubtitleRules(_Section):
    max_line_chars: int = Field(ge=10)
    max_lines: int = Field(ge=1, le=3)
    target_cps: float = Field(gt=0)
    max_cps: float = Field(gt=0)
    min_duration_ms: int = Field(ge=0)
    max_duration_ms: int = Field(gt=0)
    min_gap_ms: int = Field(ge=0)
    pause_split_ms: int = Field(ge=0)
    max_lead_ms: int = Field(ge=0)
    max_cue_chars: int = Field(ge=1)
    line_chars: dict[str, int] = Field(default_factory=dict)  # per language: {"en": 42, "ru": 39}

    @field_validator("line_chars")
    @classmethod
    def _line_chars_sane(cls, v):
        bad = {k: n for k, n in v.items() if n < 10}
        if bad:
            raise ValueError(f"characters per line must be 10 or more, found {bad}")
        return {k.lower(): n for k, n in v.items()}

    def line_chars_for(self, language: str) -> int:
        """Characters per line for `language`: its own entry, its primary subtag's ("pt" for "pt-BR"), else max_line_chars."""
        lang = language.lower()
        return self.line_chars.get(lang, self.line_chars.get(lang.split("-")[0], self.max_line_chars))

    def for_language(self, language: str) -> SubtitleRules:
        """These rules with max_line_chars set for `language`, so cue cutting and QC use one number."""
        n = self.line_chars_for(language)
        return self if n == self.max_line_chars else self.model_copy(update={"max_line_chars": n})


class TranslationOptions(_Section):
    languages: tuple[str, ...]
    argos_dirs: tuple[str, ...]
    argostranslate_packages: bool
    argostranslate_dir: str
    index_url: str
    batch_size: int = Field(ge=1, le=1024)
    beam_size: int = Field(ge=1, le=16)
    glossary_dir: str
    max_interpreter_lag_ms: int = Field(ge=0, le=30000)

    def glossary_path(self) -> Path:
        return Path(self.glossary_dir).expanduser() if self.glossary_dir else DEFAULTS_DIR / "glossary"

    def argos_paths(self) -> tuple[Path, ...]:
        """Where installed Argos packages are looked for, in this order; the first is where installs go.

        medialib's own folder, then `argos_dirs`, then argostranslate's own package folder
        (read only: medialib never installs into nor removes from it), so a package
        installed with either tool serves both.
        """
        own = (medialib_home() / "models" / "argos", *(Path(d).expanduser() for d in self.argos_dirs))
        theirs = self.argostranslate_path()
        return own if theirs is None else (*own, theirs)

    def argostranslate_path(self) -> Path | None:
        """argostranslate's package folder: `argostranslate_dir`, or found as argostranslate finds it; None when off."""
        if not self.argostranslate_packages:
            return None
        if self.argostranslate_dir:
            return Path(self.argostranslate_dir).expanduser()
        return argostranslate_packages_dir(os.environ)


class FlowOptions(_Section):
    task_workers: int = Field(ge=1, le=32)
    encoders_per_machine: int = Field(ge=0)      # ladder encodes at once on one machine, all runs together; 0: no limit
    transcribers_per_machine: int = Field(ge=0)  # Whisper transcriptions at once on one machine; 0: no limit
    retries: int = Field(ge=0)
    retry_delay_s: float = Field(ge=0)

    def retry_delays(self) -> list[float]:
        """The waits before each retry, doubling (5, 10, 20 s): long enough for a restarted S3 server."""
        return [self.retry_delay_s * 2 ** i for i in range(self.retries)]


class EventOptions(_Section):
    """An event's recordings processed together (`medialib event process`)."""

    max_concurrent_lectures: int = Field(ge=1, le=64)


class WorkOptions(_Section):
    """The local work cache ($MEDIALIB_HOME/work): copies of what object storage holds."""

    max_cache_gb: float = Field(ge=0)   # trimmed to this after each lecture, oldest first; 0: keep nothing

    @property
    def max_cache_bytes(self) -> int:
        return int(self.max_cache_gb * 1e9)


class ReviewOptions(_Section):
    """The translators' review app (medialib_app.review) and the tracks it versions."""

    database_url: str            # "" = SQLite at $MEDIALIB_HOME/review.db
    https: bool                  # served over https: session cookies get the Secure flag
    trusted_proxies: tuple[str, ...]   # addresses whose X-Forwarded-Proto/-For are believed
    session_max_age_s: int = Field(ge=60)
    lock_ttl_s: int = Field(ge=10)
    login_max_failures: int = Field(ge=1)
    login_window_s: int = Field(ge=1)
    # Machine subtitles nobody has approved yet: "label" publishes them named "English (machine)"
    # and says so on the page; "hide" publishes none until a reviewer approves.
    unreviewed: Literal["label", "hide"]

    def database(self) -> str:
        return self.database_url or f"sqlite:///{medialib_home() / 'review.db'}"


class ClusterOptions(_Section):
    """Several machines on Prefect: `medialib server up` here, `medialib worker start` anywhere."""

    host: str                    # address the Prefect server (and the embedded S3 server) listen on
    advertise: str               # address other machines use to reach them; "" = host
    prefect_port: int = Field(ge=1, le=65535)
    database_url: str            # Prefect's database: "" = SQLite under $MEDIALIB_HOME/cluster; postgresql+asyncpg://...
    work_pool: str
    heartbeat_s: int = Field(ge=30)      # flow runs' heartbeat (Prefect's minimum is 30 s)
    crashed_after_s: int = Field(ge=31)  # a run with no heartbeat for this long is marked Crashed
    resubmit: int = Field(ge=0)          # times an event re-submits a crashed lecture run
    max_runs: int = Field(ge=0)          # lecture runs at once across all workers (the pool's limit); 0: no limit
    start_timeout_s: float = Field(gt=0)


class InboxOptions(_Section):
    """The watched inbox (medialib.ingest.inbox): inbox/ in the archive bucket."""

    grace_s: float = Field(ge=0)       # a recording with no sidecar is taken this long after it appeared
    interval_s: float = Field(gt=0)    # between scans of `medialib inbox watch`


class UploadOptions(_Section):
    """Staff browser uploads (medialib.ingest.uploads): multipart, straight to the archive bucket."""

    part_size_mb: int = Field(ge=5, le=5120)      # S3's smallest part (but the last) is 5 MiB
    abandon_after_h: float = Field(gt=0)          # multipart uploads older than this are aborted
    presign_expiry_s: int = Field(ge=60, le=604800)
    max_size_gb: float = Field(gt=0)
    # Where browsers reach the S3 endpoint (presigned URLs are signed for this host);
    # "": storage.endpoint_url, as the player's public_base_url does for the publish bucket.
    public_endpoint_url: str
    cors_allowed_origins: tuple[str, ...]         # origins of the review app, for the archive bucket's CORS


class ChunkOptions(_Section):
    """One long recording across workers: when to chunk the ladder and window the speech, and how big."""

    ladder_above_s: float = Field(ge=0)
    ladder_chunk_s: float = Field(gt=0)
    speech_above_s: float = Field(ge=0)
    speech_window_s: float = Field(gt=0)    # minutes in production: Whisper decodes 30 s at a time, short windows lose context
    speech_search_s: float = Field(gt=0)
    distribute: bool                        # with a Prefect server: chunks and windows to its task workers
    task_timeout_s: float = Field(gt=0)     # a chunk or window on a task worker: the run fails after this


class Settings(_Section):
    storage: StorageOptions
    embedded: EmbeddedOptions
    ladder: LadderOptions
    speech: SpeechOptions
    subtitles: SubtitleRules
    translation: TranslationOptions
    flow: FlowOptions
    review: ReviewOptions
    cluster: ClusterOptions
    inbox: InboxOptions
    uploads: UploadOptions
    event: EventOptions
    work: WorkOptions
    chunks: ChunkOptions

    def home(self) -> Path:
        return medialib_home()

    def embedded_data_dir(self) -> Path:
        return Path(self.embedded.data_dir).expanduser() if self.embedded.data_dir else medialib_home() / "seaweedfs"


def medialib_home() -> Path:
    """Per-user data folder: credentials, the embedded server's data, caches."""
    if home := os.environ.get("MEDIALIB_HOME"):
        return Path(home).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "medialib"


def argostranslate_packages_dir(environ: Mapping[str, str]) -> Path:
    """Where argostranslate 1.11 keeps installed packages, given its environment.

    As argostranslate/settings.py of 1.11.0 decides (data_dir, config_dir, get_setting,
    package_data_dir): $ARGOS_PACKAGES_DIR, else the ARGOS_PACKAGES_DIR key of its
    settings.json in ($XDG_CONFIG_HOME or ~/.config)/argos-translate/, else
    ($XDG_DATA_HOME or ~/.local/share)/argos-translate/packages. Not followed: what its
    snap build changes ($SNAP_USER_DATA as home, folders inside $SNAP), set only inside
    that snap. Empty variables count as unset.
    """
    home = Path(environ.get("HOME") or Path.home())
    if value := environ.get("ARGOS_PACKAGES_DIR"):
        return Path(value)
    config_dir = Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "argos-translate"
    try:
        value = json.loads((config_dir / "settings.json").read_text(encoding="utf-8")).get("ARGOS_PACKAGES_DIR")
    except (OSError, ValueError, AttributeError):  # no file, not JSON, not a JSON object
        value = None
    if isinstance(value, str) and value:
        return Path(value)
    return Path(environ.get("XDG_DATA_HOME") or home / ".local" / "share") / "argos-translate" / "packages"


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """MEDIALIB_SECTION__KEY=value; values parse as TOML (so 8, true, ["a"]) or stay strings."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX):].lower().partition("__")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out.setdefault(section, {})[key] = value
    return out


def load_settings(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Defaults, then `path` (or $MEDIALIB_CONFIG), then environment overrides."""
    environ = dict(os.environ if environ is None else environ)
    default_file = Path(environ.get("MEDIALIB_DEFAULTS", DEFAULTS_DIR / "default.toml"))
    try:
        data = tomllib.loads(default_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{default_file}: default settings not found; reinstall medialib (pip install --force-reinstall medialib)") from None
    user = path or environ.get("MEDIALIB_CONFIG")
    if user:
        try:
            data = _merge(data, tomllib.loads(Path(user).read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ConfigError(f"{user}: config file not found; check MEDIALIB_CONFIG or --config") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{user}: not valid TOML ({e}); fix the file") from None
    data = _merge(data, _env_overrides(environ))
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"setting {where}: {first['msg']}; fix it in your config file or MEDIALIB_* variables") from None
