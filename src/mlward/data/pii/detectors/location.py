"""Postal addresses (street + number, several locales) and postal codes.

An address is recognised by its street line: a house number next to a street type
(``12 Baker Street``, ``Schaafstraße 1-8``, ``435, rue de Samson``, ``Calle Mayor 5``,
``Piazza Pratesi, 292``, ``H.No. 99``), PO boxes and military addresses. The span then
extends over the following city / postcode segments, so a whole address cell is one span.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlward.data.pii.detectors.interface import Detector, Span, Verdict
from mlward.data.pii.entities import EntityType
from mlward.data.pii.text import words

# USPS street suffixes (Publication 28) in common use, UK and Indian street types.
_EN_SUFFIXES = words(
    "alley allee avenue ave bend blvd boulevard branch bridge brook burg bypass camp canyon "
    "cape causeway center centre circle cir cliff close club common corner course court ct "
    "cove creek crescent cres crest crossing crossroad curve dale dam divide drive dr estate "
    "estates expressway expy extension ferry field fields flat flats ford forest forge fork "
    "fort freeway fwy garden gardens gateway glen green grove harbor haven heights highway "
    "hwy hill hills hollow inlet island isle junction key knoll lake lakes landing lane ln "
    "light lock lodge loop mall manor meadow meadows mews mill mission motorway mount "
    "mountain neck orchard oval overpass park parkway pkwy pass passage path pike pine place "
    "pl plain plains plaza point port prairie ranch rapid rest ridge river road rd route row "
    "run shoal shore skyway spring springs spur square sq station stravenue stream street st "
    "summit terrace ter throughway trace track trafficway trail trl tunnel turnpike underpass "
    "union valley via viaduct view village ville vista walk wall way well wells marg nagar "
    "chowk ganj zila colony fall loaf land radial ramp rue"
)
_SUFFIX = "(?i:" + "|".join(sorted(set(_EN_SUFFIXES), key=len, reverse=True)) + r")s?\.?"
_WORD = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_GAP = r"[ \t]+"
_UNIT = (
    r"(?:,?[ \t]*(?i:suite|ste\.?|apt\.?|apartment|unit|flat|floor|fl\.?|piso|puerta|escalera|"
    r"bajo|piano|interno|int\.|scala|appartamento|etage|#)[ \t]*\w{1,6}[ \t]*)?"
)
_ROMANCE = (
    r"(?i:rue|avenue|av\.|boulevard|bd|place|chemin|allée|allee|impasse|quai|route|cours|"
    r"square|passage|faubourg|voie|calle|c/|c\.|avenida|avda\.?|paseo|plaza|camino|ronda|"
    r"travesía|travesia|carrer|glorieta|callejón|callejon|cuesta|pasaje|pasadizo|acceso|"
    r"cañada|carretera|urbanización|urbanizacion|rambla|alameda|bulevar|vial|via|viale|"
    r"piazza|piazzale|corso|largo|vicolo|strada|contrada|borgo|stretto|rotonda|canale|"
    r"incrocio|vico|lungomare|salita|rua|r\.|travessa|praça|praca)"
)
_PARTICLE = r"(?:(?:de|del|de la|de los|de las|di|della|dei|degli|do|da|dos|das|du|des)[ \t]+|d['’])"
_ROMANCE_NAME = rf"{_ROMANCE}{_GAP}{_PARTICLE}?[A-ZÀ-Þ][\w'’.-]*(?:[ \t]+[\w'’.-]+){{0,4}}?"
_DE_LONG = r"(?i:straße|strasse|str\.|allee|platz|straat|laan|gasse)"
_DE_SHORT = r"(?i:weg|ring|damm|ufer|chaussee|steig|pfad|markt|hof|gracht|dreef|singel|steeg|baan|pad)"
_HOUSE = r"\d{1,4}[ \t]?[a-z]?(?:[ \t]?[-/][ \t]?\d{1,4})?(?!\w)"

_STREET_LINES = (
    # English: "344 Mathis Parkways Suite 907", "12/41\nTella Path", "Flat 37\nBennett Mall"
    rf"\b\d{{1,6}}[A-Za-z]?(?:[/-]\d{{1,4}})?,?\s+(?:{_WORD}{_GAP}){{0,3}}{_WORD}{_GAP}{_SUFFIX}{_UNIT}(?!\w)",
    # German / Dutch: "Schaafstraße 1-8", "Dussen vanstraße 915", "Kirstin-Mies-Ring 6"
    rf"\b[\wÄÖÜäöüß.-]*{_DE_LONG}{_GAP}{_HOUSE}",
    rf"\b[A-ZÄÖÜ][\wäöüß.-]{{3,}}{_DE_SHORT}{_GAP}{_HOUSE}",
    rf"\b[A-ZÄÖÜ][\wäöüß.-]+{_GAP}(?:Straße|Strasse|Weg|Allee|Platz|Gasse|Ring){_GAP}{_HOUSE}",
    # French number first: "435, rue de Samson"
    rf"\b\d{{1,4}}(?:[ \t]?(?i:bis|ter))?,?{_GAP}{_ROMANCE_NAME}(?=[ \t]*(?:$|\n|,))",
    # Street type first, number after: "Calle Mayor 5", "Piazza Pratesi, 292"
    rf"(?<!\w){_ROMANCE_NAME},?{_GAP}\d{{1,4}}\b",
    # Street type first, no number, postcode on the next segment: "rue Brun\n68318 Thierry"
    rf"(?<!\w){_ROMANCE_NAME}[ \t]*(?:\n|,[ \t]*)\d{{4,5}}\b",
    # Indian: "H.No. 99, Ramesh, ...", "69/665, Bir, Shahjahanpur 062642", "62/74\nNarayan\nRampur-096563"
    r"\b(?:H\.?\s?No\.?|House\s+No\.?|Flat\s+No\.?|Plot\s+No\.?)\s*\d+[\w/-]*",
    r"\b\d{1,5}(?:/\d{1,5})?,?[ \t\n]+(?:[A-Z][\w.'-]*[ \t]*(?:,|\n)?[ \t]*){1,4}[ -]?\d{6}\b",
    # PO boxes and military addresses.
    r"\b(?:P\.?\s?O\.?\s?Box|Postfach|Apartado(?:\s+de\s+correos)?|Casella\s+Postale)\s+\d+",
    r"\b(?:PSC|Unit|CMR)\s+\d{4},?\s+Box\s+\d{4}",
    r"\b(?:USNS|USNV|USS|USCGC)\s+[A-Z][a-z]+\s+FPO\s+A[AEP]\s+\d{5}",
)
# Locality segments after the street line ("Lake Laura, MT 87630", "13031, Arborio (VC)"):
# each starts after a comma or line break and is made of capitalised words, numbers and
# the particles of place names; a lower-case word ("and my phone is") ends the address.
_SEGMENT_WORD = (
    r"(?:[A-ZÀ-Þ0-9(][\w'’.()/-]*|-\d+|&|(?:de|del|la|le|les|di|da|du|des|sur|am|an|der|im|in|bei)(?=[ \t]))"
)
_SEGMENT = rf"{_SEGMENT_WORD}(?:[ \t]+{_SEGMENT_WORD}){{0,5}}"
_TAIL = re.compile(rf"{_UNIT}(?:[ \t]+{_SEGMENT_WORD}){{0,5}}(?:[ \t]*(?:,|\r?\n)[ \t]*{_SEGMENT}){{0,4}}")


class AddressDetector(Detector):
    """Street addresses in English, German, French, Spanish, Italian and Indian styles."""

    entity = EntityType.ADDRESS
    prefilter = (
        r"(?i)\d{1,6}[a-z]?(?:[/-]\d{1,4})?,?\s+\w"
        r"|(?:straße|strasse|str\.|weg|allee|platz|gasse|ring|damm)\s+\d"
        r"|(?:calle|avenida|paseo|plaza|via|viale|piazza|corso|vicolo|strada|cuesta|rua)\s"
        r"|h\.?\s?no|p\.?\s?o\.?\s?box|postfach|\b[AFD]PO\s+A[AEP]"
    )
    pattern = re.compile("|".join(f"(?:{line})" for line in _STREET_LINES))
    context_words = ("address", "adresse", "live", "lives", "resides", "street", "wohnt")
    priority = 35

    def find(self, text: str) -> Iterator[Span]:
        """Yield street lines, each extended over the city / postcode segments after it."""
        for match in self.pattern.finditer(text):
            tail = _TAIL.match(text, match.end())
            end = tail.end() if tail else match.end()
            yield Span(self.entity, match.start(), end, Verdict.VALID, self.priority)

    def check(self, candidate: str) -> Verdict:
        return Verdict.VALID if self.pattern.search(candidate) else Verdict.INVALID


class PostalCodeDetector(Detector):
    """Postal codes (US ZIP / ZIP+4, UK, Canada, Netherlands, India, 4-5 digit codes).

    Shapes alone prove nothing (``12345`` is also a quantity), so these are always
    ``PLAUSIBLE``: a ``zip`` / ``postcode`` / ``plz`` column name or a context word
    is needed. Inside full addresses the address span already covers them.
    """

    entity = EntityType.POSTAL_CODE
    prefilter = (
        r"(?i)^\s*(?:\d{4,6}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d"
        r"|\d{4} ?[A-Z]{2}|\d{2}-\d{3}|\d{3} \d{2})\s*$|zip|post|plz"
    )
    pattern = re.compile(
        r"(?i)(?<![\w-])(?:\d{5}(?:-\d{4})?|\d{4}|\d{6}|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}"
        r"|[A-Z]\d[A-Z] ?\d[A-Z]\d|\d{4} ?[A-Z]{2}|\d{2}-\d{3}|\d{3} \d{2})(?![\w-])"
    )
    context_words = ("zip", "postcode", "postal code", "post code", "plz", "code postal", "pin code")
    priority = 30
    numeric = True
    needs_evidence = True

    def check(self, candidate: str) -> Verdict:
        return Verdict.PLAUSIBLE
