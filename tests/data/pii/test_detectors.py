"""Validators one by one: real values, near misses and the traps between them."""

from __future__ import annotations

import jwt
import pytest

from mlward.data.pii import EntityType as E
from mlward.data.pii import default_detectors, find_hits
from mlward.data.pii.detectors import Verdict
from mlward.data.pii.detectors.contact import PhoneDetector
from mlward.data.pii.detectors.dates import DateOfBirthDetector
from mlward.data.pii.detectors.financial import CreditCardDetector, card_brand
from mlward.data.pii.detectors.government import UkNinoDetector, UsSsnDetector
from mlward.data.pii.hints import hints_for
from mlward.data.pii.masking import mask_example

DETECTORS = default_detectors()


def strong(text: str, hinted: frozenset[E] = frozenset()) -> dict[E, list[str]]:
    found: dict[E, list[str]] = {}
    for hit in find_hits(text, DETECTORS, hinted):
        if hit.counted:
            found.setdefault(hit.span.entity, []).append(text[hit.span.start : hit.span.end])
    return found


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("mail j.doe+news@mail.example.co.uk today", E.EMAIL, "j.doe+news@mail.example.co.uk"),
        ("call +44 20 7946 0018 now", E.PHONE, "+44 20 7946 0018"),
        ("tel. 03 61 17 06 69", E.PHONE, "03 61 17 06 69"),
        ("card 4111 1111 1111 1111 exp 12/29", E.CREDIT_CARD, "4111 1111 1111 1111"),
        ("amex 378282246310005", E.CREDIT_CARD, "378282246310005"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", E.IBAN, "DE89 3704 0044 0532 0130 00"),
        ("SSN 536-90-4399 on file", E.US_SSN, "536-90-4399"),
        ("ITIN 912-78-1234", E.US_ITIN, "912-78-1234"),
        ("NI number AB 12 34 56 C", E.UK_NINO, "AB 12 34 56 C"),
        ("IdNr 36 574 261 809", E.DE_TAX_ID, "36 574 261 809"),
        ("NIR 2 55 08 14 168 025 38", E.FR_NIR, "2 55 08 14 168 025 38"),
        ("DNI 12345678Z", E.ES_DNI, "12345678Z"),
        ("NIE X1234567L", E.ES_NIE, "X1234567L"),
        ("CF RSSMRA85T10A562S", E.IT_FISCAL_CODE, "RSSMRA85T10A562S"),
        ("Aadhaar 2341 2341 2346", E.IN_AADHAAR, "2341 2341 2346"),
        ("PAN ABCPE1234F", E.IN_PAN, "ABCPE1234F"),
        ("from 2001:db8::8a2e:370:7334 at noon", E.IP_ADDRESS, "2001:db8::8a2e:370:7334"),
        ("from 192.168.10.200.", E.IP_ADDRESS, "192.168.10.200"),
        ("wifi 00:1A:2B:3C:4D:5E", E.MAC_ADDRESS, "00:1A:2B:3C:4D:5E"),
        (
            "db postgres://app:Sup3rS3cret@db.internal:5432/x",
            E.URL_CREDENTIALS,
            "postgres://app:Sup3rS3cret@db.internal",
        ),
        ("key AKIAIOSFODNN7EXAMPLE", E.AWS_ACCESS_KEY, "AKIAIOSFODNN7EXAMPLE"),
        (
            "gcp AIzaSyA1234567890abcdefghijklmnopqrstuv",
            E.GCP_API_KEY,
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        ),
        (
            "gh ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            E.GITHUB_TOKEN,
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        ),
        ("slack xoxb-123456789012-abcdefABCDEF", E.SLACK_TOKEN, "xoxb-123456789012-abcdefABCDEF"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", E.STRIPE_KEY, "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("password=hunter2isweak", E.PASSWORD, "hunter2isweak"),
        ("api_key: 'Zx9Qw3Lm8Rt5Yp2Vb7Nc4Kd1'", E.SECRET, "Zx9Qw3Lm8Rt5Yp2Vb7Nc4Kd1"),
        ("Customer Rachel Davis called", E.PERSON, "Rachel Davis"),
        ("Sehr geehrte Frau Müller,", E.PERSON, "Frau Müller"),
        ("ships to 221B Baker Street, London NW1 6XE, and", E.ADDRESS, "221B Baker Street, London NW1 6XE"),
        ("Lieferung: Hauptstraße 5, 10115 Berlin", E.ADDRESS, "Hauptstraße 5, 10115 Berlin"),
        ("born on 1985-03-12 in Lyon", E.DATE_OF_BIRTH, "1985-03-12"),
        ("né le 12/03/1985", E.DATE_OF_BIRTH, "12/03/1985"),
    ],
)
def test_finds_and_validates(text: str, entity: E, value: str) -> None:
    assert value in strong(text).get(entity, []), strong(text)


def test_pem_private_key_and_jwt() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
    assert E.PRIVATE_KEY in strong(f"leaked: {pem}")
    token = jwt.encode({"sub": "42"}, "s" * 32, algorithm="HS256")
    assert strong(f"Authorization: Bearer {token}")[E.JWT] == [token]
    # Three base64url segments whose header is not JSON with "alg" is not a JWT.
    assert E.JWT not in strong("eyJub3RfYV9qd3QiOjF9.eyJzdWIiOiI0MiJ9.abc")


@pytest.mark.parametrize(
    "text",
    [
        "order 4539148803436468 shipped",  # 16 digits, random order number (Luhn fails)
        "ref 9000000000000008",  # Luhn-valid, no issuer range: not VALID alone
        "SSN 000-12-3456",  # area 000 is never issued
        "SSN 666-12-3456",  # area 666 is never issued
        "SSN 123-00-4567",  # group 00 is never issued
        "tracking 4155552671",  # a bare 10-digit id is not a phone without context
        "order placed on 2023-01-15",  # a date with no birth context
        "version 1.2.3.4 released",  # fine as an IP, but not a phone or date
        "request 3f2a8c2e-6c1b-4c47-9a3e-2b1d3c4e5f60",  # UUID
        "sha1 c8878c8b517bcc33484f25640de133e86ed3f869",  # hash
        "total 1.234.567,89 EUR",  # a European amount
        "icon@2x.png",  # file name, not an e-mail
        "password=********",  # placeholder, not a secret
        "Spring 2023 was busy",  # not a German street
        "The Quick Brown Fox",  # capitalised words that are not names
    ],
)
def test_tricky_negatives(text: str) -> None:
    found = strong(text)
    if text.startswith("version"):
        found.pop(E.IP_ADDRESS, None)  # a dotted quad is a valid IPv4 address
    assert not found, found


def test_evidence_turns_plausible_into_counted() -> None:
    ssn = UsSsnDetector()
    assert ssn.check("536-90-4399") is Verdict.VALID
    assert ssn.check("536904399") is Verdict.PLAUSIBLE  # bare digits need evidence
    assert E.US_SSN not in strong("ref 536904399")
    assert E.US_SSN in strong("ssn 536904399")  # context word
    assert E.US_SSN in strong("536904399", hinted=frozenset({E.US_SSN}))  # column name
    phone = PhoneDetector()
    assert phone.check("4155552671") is Verdict.PLAUSIBLE
    assert phone.check("(415) 555-2671") in (Verdict.VALID, Verdict.PLAUSIBLE)
    dob = DateOfBirthDetector()
    assert dob.check("1985-03-12") is Verdict.PLAUSIBLE
    assert dob.check("2999-01-01") is Verdict.INVALID  # in the future
    assert dob.check("1700-01-01") is Verdict.INVALID  # older than 120 years
    nino = UkNinoDetector()
    assert nino.check("AB123456C") is Verdict.VALID
    assert nino.check("ZZ 86 57 07 T") is Verdict.PLAUSIBLE  # placeholder prefix, bad suffix


def test_card_brands_and_luhn_chance() -> None:
    assert card_brand("4111111111111111") == "visa"
    assert card_brand("5555555555554444") == "mastercard"
    assert card_brand("2223003122003222") == "mastercard"
    assert card_brand("378282246310005") == "amex"
    assert card_brand("6011111111111117") == "discover"
    assert card_brand("9111111111111111") is None
    detector = CreditCardDetector()
    assert detector.check("4111111111111112") is Verdict.INVALID  # Luhn fails


@pytest.mark.parametrize(
    ("column", "entity"),
    [
        ("dob", E.DATE_OF_BIRTH),
        ("DateOfBirth", E.DATE_OF_BIRTH),
        ("geburtsdatum", E.DATE_OF_BIRTH),
        ("fecha_nacimiento", E.DATE_OF_BIRTH),
        ("date_naiss", E.DATE_OF_BIRTH),
        ("telefono", E.PHONE),
        ("MobileNo", E.PHONE),
        ("handynummer", E.PHONE),
        ("nachname", E.PERSON),
        ("customerName", E.PERSON),
        ("prenom", E.PERSON),
        ("cognome", E.PERSON),
        ("courriel", E.EMAIL),
        ("EMAIL_ADDRESS", E.EMAIL),
        ("correo", E.EMAIL),
        ("ni_number", E.UK_NINO),
        ("codice_fiscale", E.IT_FISCAL_CODE),
        ("aadhaar_no", E.IN_AADHAAR),
        ("PLZ", E.POSTAL_CODE),
        ("zipCode", E.POSTAL_CODE),
        ("indirizzo", E.ADDRESS),
        ("cc_num", E.CREDIT_CARD),
        ("user_pwd", E.PASSWORD),
        ("apiKey", E.SECRET),
    ],
)
def test_column_name_hints(column: str, entity: E) -> None:
    assert entity in hints_for(column)


@pytest.mark.parametrize(
    "column",
    ["order_date", "username", "file_name", "class_name", "password_hash", "companies"],
)
def test_column_names_that_are_not_hints(column: str) -> None:
    assert hints_for(column) == frozenset()


@pytest.mark.parametrize(
    ("entity", "value", "masked"),
    [
        (E.EMAIL, "jane.doe@example.com", "j***@e***.com"),
        (E.US_SSN, "123-45-6789", "***-**-6789"),
        (E.CREDIT_CARD, "4111 1111 1111 1111", "**** **** **** 1111"),
        (E.AWS_ACCESS_KEY, "AKIAIOSFODNN7EXAMPLE", "AKIA************"),
        (E.PERSON, "Jane Doe", "J*** D**"),
        (E.DATE_OF_BIRTH, "1985-03-12", "****-**-**"),
    ],
)
def test_masked_examples_never_show_the_value(entity: E, value: str, masked: str) -> None:
    assert mask_example(entity, value) == masked
    assert value not in mask_example(entity, value)


# Real IBANs (ECBS / bank examples) and the same numbers with a wrong check: each "bad"
# one keeps the country's length and alphabet, only its mod-97 check fails.
VALID_IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
]
BAD_CHECK_IBANS = [
    "DE88 3704 0044 0532 0130 00",  # check digits off by one
    "GB28 WEST 1234 5698 7654 32",  # check digits swapped
    "FR14 2004 1010 0505 0001 3M02 607",  # last BBAN character changed
    "NL91ABNA0417164301",
    "CH9300762011623852958",
]


@pytest.mark.parametrize("value", VALID_IBANS)
def test_iban_with_a_valid_mod97_check_is_detected(value: str) -> None:
    from mlward.data.pii.detectors.financial import IbanDetector

    assert IbanDetector().check(value) is Verdict.VALID
    assert strong(f"IBAN {value} please") == {E.IBAN: [value]}


@pytest.mark.parametrize("value", BAD_CHECK_IBANS)
def test_well_formed_iban_with_a_wrong_mod97_check_is_not_detected(value: str) -> None:
    from mlward.data.pii.detectors.financial import IbanDetector

    assert IbanDetector().check(value) is Verdict.INVALID
    # Not even with the context word or a column named for IBANs.
    assert E.IBAN not in strong(f"IBAN {value} please", frozenset({E.IBAN}))
