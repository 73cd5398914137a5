"""Translation: Argos packages on CTranslate2, sentence re-timing, interpreters' tracks, glossary, package installs."""

from __future__ import annotations

from .argos import (
    ArgosPackage as ArgosPackage,
    PackageFolder as PackageFolder,
    find_route as find_route,
    inspect_package as inspect_package,
    installed_packages as installed_packages,
    parse_metadata as parse_metadata,
    read_package as read_package,
    scan_packages as scan_packages,
    version_key as version_key,
)
from .ct2 import (
    CT2Translator as CT2Translator,
    PivotTranslator as PivotTranslator,
    Translator as Translator,
    load_translator as load_translator,
)
from .retime import (
    Sentence as Sentence,
    retime_translation as retime_translation,
    sentences_from_cues as sentences_from_cues,
    sentences_from_words as sentences_from_words,
    translate_track as translate_track,
)
from .interpret import (
    Alignment as Alignment,
    align_interpretation as align_interpretation,
    estimate_lag_ms as estimate_lag_ms,
    split_units as split_units,
)
from .glossary import (
    Glossary as Glossary,
    Term as Term,
    find_term as find_term,
    glossary_violations as glossary_violations,
    load_glossary as load_glossary,
)
