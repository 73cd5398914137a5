"""Translators' review: versioned tracks in object storage, per-cue provenance of edits, the workflow."""

from __future__ import annotations

from .edits import apply_provenance as apply_provenance, changed_cue_ids as changed_cue_ids
from .store import (
    LivePointer as LivePointer,
    TrackVersion as TrackVersion,
    VersionConflict as VersionConflict,
    create_version as create_version,
    latest_machine_version as latest_machine_version,
    head_number as head_number,
    head_version as head_version,
    latest_version as latest_version,
    list_versions as list_versions,
    live as live,
    load_version as load_version,
    record_machine_version as record_machine_version,
    set_live as set_live,
    version_from_dict as version_from_dict,
    version_to_dict as version_to_dict,
)
from .workflow import (
    ACTIONS as ACTIONS,
    ROLES as ROLES,
    STATES as STATES,
    InvalidTransition as InvalidTransition,
    allowed_actions as allowed_actions,
    next_state as next_state,
)
