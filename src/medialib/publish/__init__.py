"""Publishing: the HLS bundle (playlists, transcript, player page), its upload in phases, the catalog."""

from __future__ import annotations

from .bundle import Bundle, LectureMeta, package_bundle
from .catalog import read_catalog, update_catalog
from .page import PageInfo, SubtitleLink, page_data, player_assets, render_player_page
from .playlists import subtitle_playlist, with_timestamp_map, write_master_playlist
from .upload import publish_bundle
