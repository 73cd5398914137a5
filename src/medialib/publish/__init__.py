"""Publishing: the HLS bundle (playlists, transcript, player page), its upload in phases, the catalog."""

from __future__ import annotations

from .page import (
    PageInfo as PageInfo,
    SubtitleLink as SubtitleLink,
    page_data as page_data,
    player_assets as player_assets,
    render_player_page as render_player_page,
)
from .playlists import (
    patch_master_subtitles as patch_master_subtitles,
    subtitle_media_lines as subtitle_media_lines,
    subtitle_playlist as subtitle_playlist,
    with_timestamp_map as with_timestamp_map,
    write_master_playlist as write_master_playlist,
)
from .bundle import (
    Bundle as Bundle,
    LectureMeta as LectureMeta,
    PublishedTrack as PublishedTrack,
    package_bundle as package_bundle,
    package_subtitles as package_subtitles,
)
from .upload import publish_bundle as publish_bundle
from .catalog import read_catalog as read_catalog, update_catalog as update_catalog
