"""Translation: Argos packages on CTranslate2, sentence re-timing, interpreters' tracks, glossary, package installs."""

from __future__ import annotations

from .argos import ArgosPackage, PackageFolder, find_route, installed_packages, read_package, scan_packages
from .ct2 import CT2Translator, PivotTranslator, Translator, load_translator
from .glossary import Glossary, Term, find_term, glossary_violations, load_glossary
from .interpret import Alignment, align_interpretation, estimate_lag_ms, split_units
from .retime import (
    Sentence,
    retime_translation,
    sentences_from_cues,
    sentences_from_words,
    translate_track,
)
