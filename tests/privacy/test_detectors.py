"""Which strings count as personal data: checksums decide for numbers, order ids never do."""
import pytest

from privacy.detectors import find_personal_data, iban_valid, luhn_valid
from privacy.masking import MaskingConfig, mask_text

CONFIG = MaskingConfig.from_settings()


@pytest.mark.parametrize(
    "text, masked",
    [
        ("my card is 4111 1111 1111 1111 thanks", "my card is [CARD] thanks"),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("amex 378282246310005", "amex [CARD]"),
        ("iban DE89 3704 0044 0532 0130 00 please", "iban [IBAN] please"),
        ("IBAN: GB82WEST12345698765432", "IBAN: [IBAN]"),
        ("write to bob.smith+shop@example.co.uk.", "write to [EMAIL]."),
        ("call +44 20 7946 0958 or 07700 900123", "call [PHONE] or [PHONE]"),
        ("(555) 123-4567", "[PHONE]"),
        ("send it to 221B Baker Street, London", "send it to [ADDRESS], London"),
        ("Hauptstraße 5, Berlin", "[ADDRESS], Berlin"),
        ("postcode SW1A 2AA", "postcode [ADDRESS]"),
    ],
)
def test_personal_data_is_replaced_by_its_placeholder(text: str, masked: str) -> None:
    assert mask_text(text, CONFIG) == masked


@pytest.mark.parametrize(
    "text",
    [
        "where is my order A1001?",
        "cancel a1002 and B2001 please",
        "4111 1111 1111 1112",  # fails Luhn
        "it cost 1299.00 on 2024-05-01, delivered in 30 days",
        "refund R-2024-0042 for 3 items",
        "",
        "😀" * 30,
    ],
)
def test_order_ids_amounts_dates_and_invalid_numbers_stay(text: str) -> None:
    assert mask_text(text, CONFIG) == text


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")


def test_a_card_number_is_a_card_not_a_phone_number() -> None:
    [finding] = find_personal_data("4111111111111111")
    assert finding.kind == "card"


def test_kinds_and_placeholders_are_configurable() -> None:
    config = MaskingConfig.from_settings(["email"], {"email": "<e-mail>"})
    assert mask_text("bob@example.com 4111111111111111", config) == "<e-mail> 4111111111111111"
    with pytest.raises(ValueError, match="Unknown kinds"):
        MaskingConfig.from_settings(["passport"])


def test_letters_glued_to_the_end_do_not_hide_a_number() -> None:
    """Found by the fuzz run: "+44 20 7946 0958" followed by random text kept "0958"."""
    assert mask_text("call +44 20 7946 0958abc", CONFIG) == "call [PHONE]abc"
    assert mask_text("card 4111111111111111xyz", CONFIG) == "card [CARD]xyz"
