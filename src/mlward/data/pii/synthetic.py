"""Labelled synthetic PII tables for tests, benchmarks and demos (needs Faker).

Every generated column comes with its ground truth: the set of entity types it holds
(empty for the tricky negatives: order ids that pass Luhn by chance, phone-like
numeric ids, order dates, zip-like integers, UUIDs, hashes). Free-text columns also
carry per-cell truth. Faker lacks valid values for some national ids, so those are
built from their check-digit algorithms (python-stdnum) and verified.

Large tables are assembled from pools of unique values sampled with NumPy, so a
million rows cost seconds, not Faker calls per cell.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from stdnum import luhn, verhoeff
from stdnum.de import idnr
from stdnum.iso7064 import mod_11_10

from mlward.core.optional import require
from mlward.data.pii.entities import EntityType as E

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "en_IN")


def _faker(locale: str, seed: int) -> Any:
    faker = require("faker", feature="synthetic PII tables").Faker(locale)
    faker.seed_instance(seed)
    return faker


def de_tax_id(rng: random.Random) -> str:
    """A valid German Steuer-IdNr (one digit repeated, mod 11,10 check digit)."""
    while True:
        digits = rng.sample(string.digits, 9)
        digits.insert(rng.randrange(10), rng.choice(digits))
        body = "".join(digits)
        number = body + mod_11_10.calc_check_digit(body)
        if number[0] != "0" and idnr.is_valid(number):
            return number


def uk_nino(rng: random.Random) -> str:
    """A valid UK National Insurance number, grouped like a printed one."""
    first = rng.choice("ABCEGHJKLMNOPRSTWXYZ")
    second = rng.choice("ABCEGHJKLMNPRSTWXYZ")
    if first + second in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
        return uk_nino(rng)
    digits = f"{rng.randrange(10**6):06d}"
    return f"{first}{second} {digits[:2]} {digits[2:4]} {digits[4:]} {rng.choice('ABCD')}"


def aadhaar(rng: random.Random) -> str:
    """A valid Aadhaar number (Verhoeff check), grouped 4-4-4."""
    body = str(rng.randrange(2, 10)) + f"{rng.randrange(10**10):010d}"
    number = body + verhoeff.calc_check_digit(body)
    return f"{number[:4]} {number[4:8]} {number[8:]}"


def in_pan(rng: random.Random) -> str:
    """A well-formed Indian PAN (individual holder)."""
    letters = string.ascii_uppercase
    head = "".join(rng.choice(letters) for _ in range(3)) + "P" + rng.choice(letters)
    return head + f"{rng.randrange(1, 10**4):04d}" + rng.choice(letters)


def luhn_order_id(rng: random.Random) -> str:
    """A 16-digit order id; about one in ten passes Luhn by chance, as real ids do."""
    return str(rng.randrange(10**15, 10**16))


def always_luhn_id(rng: random.Random) -> str:
    """A 16-digit id that passes Luhn but starts with 9 (no card issuer range)."""
    body = "9" + f"{rng.randrange(10**14):014d}"
    return body + luhn.calc_check_digit(body)


@dataclass
class LabelledTable:
    """A table plus its ground truth."""

    table: pa.Table
    """The data."""
    truth: dict[str, frozenset[E]]
    """Entity types per column (empty set: no PII)."""
    cell_truth: dict[str, list[frozenset[E]]] = field(default_factory=dict)
    """Per-cell entity types of free-text columns."""


_NOTE_TEMPLATES: tuple[tuple[str, tuple[E, ...]], ...] = (
    ("Customer {name} called from {phone} about order {order}.", (E.PERSON, E.PHONE)),
    ("Please send the invoice to {email} by Friday.", (E.EMAIL,)),
    ("Refund to card {card} approved by the desk.", (E.CREDIT_CARD,)),
    ("Suspicious login from {ip} was blocked.", (E.IP_ADDRESS,)),
    ("Kunde {name} ist umgezogen: {address}.", (E.PERSON, E.ADDRESS)),
    ("Patient born on {dob}, seen today for a check-up.", (E.DATE_OF_BIRTH,)),
    ("Le client {name} a écrit depuis {email}.", (E.PERSON, E.EMAIL)),
    ("SSN {ssn} verified against the application.", (E.US_SSN,)),
    ("Shipment delayed by the weather, no action needed.", ()),
    ("Order {order} shipped in 3 boxes on {date}.", ()),
    ("deploy failed: aws_access_key_id={aws} rejected", (E.AWS_ACCESS_KEY,)),
    ("Wire the deposit to IBAN {iban} before the 5th.", (E.IBAN,)),
    ("El cliente pidió cambiar la entrega para el martes.", ()),
    ("db connection: password={password} user=app", (E.PASSWORD,)),
)


def _aws_key(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def _notes(faker: Any, rng: random.Random, count: int) -> tuple[list[str], list[frozenset[E]]]:
    texts, truth = [], []
    for _ in range(count):
        template, entities = rng.choice(_NOTE_TEMPLATES)
        text = template.format(
            name=faker.name(),
            phone=faker.phone_number(),
            order=rng.randrange(10**5, 10**6),
            email=faker.email(),
            card=faker.credit_card_number(),
            ip=faker.ipv4(),
            address=faker.address().replace("\n", ", "),
            dob=faker.date_of_birth(minimum_age=18, maximum_age=90).isoformat(),
            ssn=_faker("en_US", rng.randrange(10**6)).ssn() if "{ssn}" in template else "",
            date=faker.date_this_year().isoformat(),
            aws=_aws_key(rng),
            iban=faker.iban(),
            password="".join(rng.choice(string.ascii_letters + string.digits) for _ in range(12)),
        )
        texts.append(text)
        truth.append(frozenset(entities))
    return texts, truth


def _pool(make: Callable[[], Any], size: int) -> list[Any]:
    return [make() for _ in range(size)]


def benchmark_table(rows: int, *, seed: int = 7, pool: int = 20_000) -> LabelledTable:
    """The 12-column, multi-locale table of ``bench/pii.py`` (and the scale tests)."""
    rng = random.Random(seed)
    fakers = [_faker(locale, seed + i) for i, locale in enumerate(LOCALES)]
    size = min(pool, rows)

    def mixed(method: str) -> Callable[[], Any]:
        return lambda: getattr(rng.choice(fakers), method)()

    columns: dict[str, list[Any]] = {
        "customer_name": _pool(mixed("name"), size),
        "email": _pool(mixed("email"), size),
        "phone": _pool(mixed("phone_number"), size),
        "ssn": _pool(fakers[0].ssn, size),
        "card_number": _pool(fakers[0].credit_card_number, size),
        "iban": _pool(_faker("de_DE", seed).iban, size),
        "date_of_birth": _pool(lambda: fakers[0].date_of_birth(maximum_age=95), size),
        "address": _pool(mixed("address"), size),
        "ip_address": _pool(fakers[0].ipv4, size),
        "order_id": _pool(lambda: int(luhn_order_id(rng)), size),
        "order_date": _pool(lambda: fakers[0].date_this_decade(), size),
    }
    notes, note_truth = _notes(fakers[0], rng, size)
    columns["notes"] = notes
    picks = np.random.default_rng(seed).integers(0, size, rows)
    arrays = {name: pa.array(values).take(pa.array(picks)) for name, values in columns.items()}
    truth = {
        "customer_name": frozenset({E.PERSON}),
        "email": frozenset({E.EMAIL}),
        "phone": frozenset({E.PHONE}),
        "ssn": frozenset({E.US_SSN}),
        "card_number": frozenset({E.CREDIT_CARD}),
        "iban": frozenset({E.IBAN}),
        "date_of_birth": frozenset({E.DATE_OF_BIRTH}),
        "address": frozenset({E.ADDRESS}),
        "ip_address": frozenset({E.IP_ADDRESS}),
        "order_id": frozenset(),
        "order_date": frozenset(),
        "notes": frozenset().union(*note_truth),
    }
    cell_truth = {"notes": [note_truth[i] for i in picks.tolist()]}
    return LabelledTable(pa.table(arrays), truth, cell_truth)


def locale_table(locale: str, rows: int, *, seed: int = 11) -> LabelledTable:
    """A one-locale customer table with that country's naming style and national id."""
    rng = random.Random(seed)
    faker = _faker(locale, seed)
    national: dict[str, tuple[str, Callable[[], str], E]] = {
        "en_US": ("SSN", lambda: faker.ssn(), E.US_SSN),
        "en_GB": ("ni_number", lambda: uk_nino(rng), E.UK_NINO),
        "de_DE": ("steuer_id", lambda: de_tax_id(rng), E.DE_TAX_ID),
        "fr_FR": ("numero_secu", lambda: faker.ssn(), E.FR_NIR),
        "es_ES": ("dni", lambda: faker.nif(), E.ES_DNI),
        "it_IT": ("codice_fiscale", lambda: faker.ssn(), E.IT_FISCAL_CODE),
        "en_IN": ("aadhaar_no", lambda: aadhaar(rng), E.IN_AADHAAR),
    }
    names: dict[str, tuple[str, str, str, str, str, str]] = {
        "en_US": ("firstName", "lastName", "emailAddress", "phoneNumber", "DOB", "streetAddress"),
        "en_GB": ("forename", "surname", "e_mail", "mobile", "date_of_birth", "address_line"),
        "de_DE": ("vorname", "nachname", "email", "telefon", "geburtsdatum", "anschrift"),
        "fr_FR": ("prenom", "nom", "courriel", "telephone", "date_naissance", "adresse"),
        "es_ES": ("nombre", "apellidos", "correo", "telefono", "fecha_nacimiento", "direccion"),
        "it_IT": ("nome", "cognome", "posta_email", "cellulare", "data_nascita", "indirizzo"),
        "en_IN": ("first_name", "last_name", "email_id", "mobile_no", "dob", "address"),
    }
    first, last, email, phone, dob, address = names[locale]
    id_name, make_id, id_entity = national[locale]
    data: dict[str, list[Any]] = {
        "customer_id": [rng.randrange(10**9, 10**10) for _ in range(rows)],
        first: [faker.first_name() for _ in range(rows)],
        last: [faker.last_name() for _ in range(rows)],
        email: [faker.email() for _ in range(rows)],
        phone: [faker.phone_number() for _ in range(rows)],
        dob: [faker.date_of_birth(maximum_age=90).isoformat() for _ in range(rows)],
        address: [faker.address() for _ in range(rows)],
        id_name: [make_id() for _ in range(rows)],
        "signup_date": [faker.date_this_decade().isoformat() for _ in range(rows)],
        "plan": [rng.choice(["free", "pro", "team"]) for _ in range(rows)],
    }
    truth = {
        "customer_id": frozenset(),
        first: frozenset({E.PERSON}),
        last: frozenset({E.PERSON}),
        email: frozenset({E.EMAIL}),
        phone: frozenset({E.PHONE}),
        dob: frozenset({E.DATE_OF_BIRTH}),
        address: frozenset({E.ADDRESS}),
        id_name: frozenset({id_entity}),
        "signup_date": frozenset(),
        "plan": frozenset(),
    }
    # Nulls and stray whitespace, as exported tables have them.
    for name in (email, phone, address):
        for i in rng.sample(range(rows), rows // 20):
            data[name][i] = None
    data[first] = [f"  {v} " if i % 7 == 0 else v for i, v in enumerate(data[first])]
    return LabelledTable(pa.table(data), truth)


def negatives_table(rows: int, *, seed: int = 13) -> LabelledTable:
    """Columns that look like PII and are not: the false-positive traps."""
    rng = random.Random(seed)
    faker = _faker("en_US", seed)
    data: dict[str, list[Any]] = {
        "order_id": [luhn_order_id(rng) for _ in range(rows)],
        "luhn_ref": [always_luhn_id(rng) for _ in range(rows)],
        "tracking_no": [rng.randrange(10**9, 10**10) for _ in range(rows)],
        "order_date": [faker.date_between("-80y", "today").isoformat() for _ in range(rows)],
        "quantity": [rng.randrange(10_000, 99_999) for _ in range(rows)],
        "request_uuid": [faker.uuid4() for _ in range(rows)],
        "content_sha1": [faker.sha1() for _ in range(rows)],
        "password_hash": [faker.sha256() for _ in range(rows)],
        "version": [f"{rng.randrange(1, 9)}.{rng.randrange(20)}.{rng.randrange(50)}" for _ in range(rows)],
        "product": [faker.catch_phrase() for _ in range(rows)],
        "city": [faker.city() for _ in range(rows)],
        "amount": [f"{rng.uniform(1, 10_000):.2f}" for _ in range(rows)],
    }
    return LabelledTable(pa.table(data), {name: frozenset() for name in data})
