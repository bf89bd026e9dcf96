"""Normalising what people type: order ids and the parts of a shipping address.

Pure functions, so the rules are easy to test and shared by every action.
"""

import re
from typing import Any, Optional, Text

ORDER_ID = re.compile(r"\b([A-Za-z])(\d{4})\b")
US_ZIP = re.compile(r"\b(\d{5})(?:-(\d{4}))?\b")
UK_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})\b")
CITY = re.compile(r"^[^\W\d_][^\W\d_ .'\-]*(?:[ .'\-]+[^\W\d_]+)*\.?$")

# "my new street is ...", "the postcode is ...", "it's in ...": keep only the value.
_LEAD_IN = re.compile(
    r"^(?:(?:my|the)\s+(?:new\s+)?"
    r"(?:street(?:\s+address)?|address|city|town|post\s*code|postal\s+code|zip(?:\s+code)?)"
    r"(?:\s+is)?|it'?s(?:\s+in)?|it\s+is(?:\s+in)?|zip(?:\s+code)?|post\s*code)\s*[:,\-]?\s*",
    re.IGNORECASE,
)


def normalise_order_id(value: Any) -> Optional[Text]:
    """'a1001', 'A1001?' and 'order A1001' all become 'A1001'; anything else None."""
    if not isinstance(value, str):
        return None
    match = ORDER_ID.search(value)
    return f"{match.group(1).upper()}{match.group(2)}" if match else None


def strip_lead_in(text: Text) -> Text:
    return _LEAD_IN.sub("", text.strip()).strip(" .,;")


def normalise_street(value: Any) -> Optional[Text]:
    """A street line needs a house number and a name: '221B Baker Street'."""
    if not isinstance(value, str):
        return None
    street = " ".join(strip_lead_in(value).split())
    if not 3 <= len(street) <= 120:
        return None
    if not re.search(r"\d", street) or not re.search(r"[^\W\d_]{2,}", street):
        return None
    return street


def normalise_city(value: Any) -> Optional[Text]:
    """Letters, spaces, hyphens, apostrophes and dots; 'new york' becomes 'New York'."""
    if not isinstance(value, str):
        return None
    city = " ".join(strip_lead_in(value).split())
    if not 2 <= len(city) <= 80 or not CITY.match(city):
        return None
    return city.title() if city.islower() else city


def normalise_postcode(value: Any) -> Optional[Text]:
    """A US ZIP code (12345 or 12345-6789) or a UK postcode (SW1A 2AA)."""
    if not isinstance(value, str):
        return None
    text = strip_lead_in(value).upper()
    if len(text) > 40:
        return None
    uk = UK_POSTCODE.fullmatch(text)
    if uk:
        return f"{uk.group(1)} {uk.group(2)}"
    us = US_ZIP.fullmatch(text)
    if us:
        return f"{us.group(1)}-{us.group(2)}" if us.group(2) else us.group(1)
    return None
