"""Find personal data in free text: card numbers, IBANs, e-mail addresses, phone numbers, postal addresses.

Each kind is a pattern plus, where one exists, the checksum that tells a real number from any
long digit string (Luhn for cards, ISO 7064 mod 97 for IBANs), so an order id (A1001), an amount
or a date stays as typed. Kinds run in a fixed order (cards and IBANs before phone numbers) so
that a card number is reported as a card, not as a phone number.
"""
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Text

KINDS = ("card", "iban", "email", "phone", "address")


@dataclass(frozen=True)
class Finding:
    kind: Text
    start: int
    end: int
    value: Text


def luhn_valid(digits: Text) -> bool:
    """The check digit every payment card number carries (ISO/IEC 7812)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(iban: Text) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    compact = re.sub(r"\s", "", iban).upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


# 13-19 digits, optionally grouped by single spaces or dashes; not inside a longer token, but
# letters glued to the end ("4111...1111abc") do not hide it.
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?!\d)")
_IBAN = re.compile(r"(?<![\w])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}(?![\w])")
_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])"
)
# Optional +/00 country prefix, then digits with the separators people type; 7-15 digits
# (ITU E.164) counted below.
_PHONE = re.compile(r"(?<![\w+-])(?:\+|00)?\(?\d[\d ()./-]{5,}\d(?!\d)")
_STREET_TYPES = (
    "street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|"
    "square|sq|terrace|close|crescent|parkway|highway|hwy|row|walk|gardens|grove|hill"
)
_ADDRESS = re.compile(
    # "221B Baker Street", "12 Downing St", "1600 Pennsylvania Avenue NW"
    rf"(?<![\w])\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Za-z][\w'’.-]*\s+){{1,4}}(?:{_STREET_TYPES})\b\.?"
    # "Hauptstraße 5", "Lindenweg 12a", "Rue de Rivoli 10" style: name + street word + number
    r"|(?<![\w])[A-Za-zÀ-ÿ'-]+(?:stra(?:ß|ss)e|str\.|weg|platz|gasse|allee)\s+\d{1,5}[a-z]?\b"
    # UK postcode, "SW1A 2AA"
    r"|(?<![\w])[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}(?![\w])",
    re.IGNORECASE,
)


def _digits(text: Text) -> Text:
    return re.sub(r"\D", "", text)


def _cards(text: Text) -> List[Finding]:
    return [
        Finding("card", m.start(), m.end(), m.group())
        for m in _CARD.finditer(text)
        if luhn_valid(_digits(m.group()))
    ]


def _ibans(text: Text) -> List[Finding]:
    """The pattern may run on into the next words ("DE89 3704 ... 00 please"): the longest
    prefix, cut at a space, whose checksum holds is the IBAN."""
    found = []
    for match in _IBAN.finditer(text):
        value = match.group()
        while value and not iban_valid(value):
            value = value.rsplit(" ", 1)[0] if " " in value else ""
        if value:
            found.append(Finding("iban", match.start(), match.start() + len(value), value))
    return found


def _emails(text: Text) -> List[Finding]:
    return [Finding("email", m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)]


# Digit strings that are not phone numbers: dates and amounts.
_NOT_PHONE = re.compile(
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d+[.,]\d{2}"
)


def _phones(text: Text) -> List[Finding]:
    found = []
    for match in _PHONE.finditer(text):
        value = match.group().rstrip(" ./-(")
        if _NOT_PHONE.fullmatch(value):
            continue
        if 7 <= len(_digits(value)) <= 15:
            found.append(Finding("phone", match.start(), match.start() + len(value), value))
    return found


def _addresses(text: Text) -> List[Finding]:
    found = []
    for match in _ADDRESS.finditer(text):
        value = match.group()
        # The postcode alternative is case-insensitive for "sw1a 2aa"; an order id never has a space
        # and a digit-letter-letter tail, so "a1001" cannot match, but a bare word could: require a digit.
        if re.search(r"\d", value):
            found.append(Finding("address", match.start(), match.end(), value))
    return found


DETECTORS: Dict[Text, Callable[[Text], List[Finding]]] = {
    "card": _cards,
    "iban": _ibans,
    "email": _emails,
    "phone": _phones,
    "address": _addresses,
}


def find_personal_data(text: Text, kinds: Optional[Sequence[Text]] = None) -> List[Finding]:
    """Non-overlapping findings, in text order; earlier kinds in KINDS win an overlap."""
    taken: List[Finding] = []
    for kind in KINDS:
        if kinds is not None and kind not in kinds:
            continue
        for finding in DETECTORS[kind](text):
            if all(finding.end <= other.start or finding.start >= other.end for other in taken):
                taken.append(finding)
    return sorted(taken, key=lambda finding: finding.start)
