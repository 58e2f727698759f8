"""The PII entity types mlward detects, with their category and sensitivity.

Sensitivity labels order datasets: ``public < internal < confidential < restricted``. A
dataset's label is the highest label of the entity types found in it; policies and the
catalogue use the same scale.
"""

from __future__ import annotations

import enum

from mlward.core.findings import Severity


class Sensitivity(enum.IntEnum):
    """Data classification label, ordered."""

    PUBLIC = 0
    INTERNAL = 1
    CONFIDENTIAL = 2
    RESTRICTED = 3

    @property
    def label(self) -> str:
        """Lower-case name used in reports (``restricted``)."""
        return self.name.lower()


class EntityType(enum.StrEnum):
    """A kind of personal or secret data."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    PERSON = "PERSON"
    ADDRESS = "ADDRESS"
    POSTAL_CODE = "POSTAL_CODE"
    DATE_OF_BIRTH = "DATE_OF_BIRTH"
    CREDIT_CARD = "CREDIT_CARD"
    IBAN = "IBAN"
    US_SSN = "US_SSN"
    US_ITIN = "US_ITIN"
    UK_NINO = "UK_NINO"
    DE_TAX_ID = "DE_TAX_ID"
    FR_NIR = "FR_NIR"
    ES_DNI = "ES_DNI"
    ES_NIE = "ES_NIE"
    IT_FISCAL_CODE = "IT_FISCAL_CODE"
    IN_AADHAAR = "IN_AADHAAR"
    IN_PAN = "IN_PAN"
    IP_ADDRESS = "IP_ADDRESS"
    MAC_ADDRESS = "MAC_ADDRESS"
    URL_CREDENTIALS = "URL_CREDENTIALS"
    AWS_ACCESS_KEY = "AWS_ACCESS_KEY"
    GCP_API_KEY = "GCP_API_KEY"
    AZURE_KEY = "AZURE_KEY"
    GITHUB_TOKEN = "GITHUB_TOKEN"  # noqa: S105 - an entity name, not a secret
    SLACK_TOKEN = "SLACK_TOKEN"  # noqa: S105 - an entity name, not a secret
    STRIPE_KEY = "STRIPE_KEY"
    PRIVATE_KEY = "PRIVATE_KEY"
    JWT = "JWT"
    PASSWORD = "PASSWORD"  # noqa: S105 - an entity name, not a secret
    SECRET = "SECRET"  # noqa: S105 - an entity name, not a secret


_CATEGORY: dict[str, tuple[str, Sensitivity]] = {}


def _register(category: str, sensitivity: Sensitivity, *entities: EntityType) -> None:
    for entity in entities:
        _CATEGORY[entity.value] = (category, sensitivity)


E = EntityType
_register("contact", Sensitivity.CONFIDENTIAL, E.EMAIL, E.PHONE, E.ADDRESS)
_register("identity", Sensitivity.CONFIDENTIAL, E.PERSON, E.DATE_OF_BIRTH)
_register("location", Sensitivity.INTERNAL, E.POSTAL_CODE)
_register("network", Sensitivity.INTERNAL, E.IP_ADDRESS, E.MAC_ADDRESS)
_register("financial", Sensitivity.RESTRICTED, E.CREDIT_CARD, E.IBAN)
GOVERNMENT_IDS: tuple[EntityType, ...] = (
    E.US_SSN,
    E.US_ITIN,
    E.UK_NINO,
    E.DE_TAX_ID,
    E.FR_NIR,
    E.ES_DNI,
    E.ES_NIE,
    E.IT_FISCAL_CODE,
    E.IN_AADHAAR,
    E.IN_PAN,
)
"""Every government-issued identifier (the ``government_id`` category), in one place."""
_register("government_id", Sensitivity.RESTRICTED, *GOVERNMENT_IDS)
_register(
    "credential",
    Sensitivity.RESTRICTED,
    E.URL_CREDENTIALS,
    E.AWS_ACCESS_KEY,
    E.GCP_API_KEY,
    E.AZURE_KEY,
    E.GITHUB_TOKEN,
    E.SLACK_TOKEN,
    E.STRIPE_KEY,
    E.PRIVATE_KEY,
    E.JWT,
    E.PASSWORD,
    E.SECRET,
)


def category(entity: EntityType) -> str:
    """Category of an entity type (``contact``, ``government_id``, ``credential``...)."""
    return _CATEGORY[entity.value][0]


def sensitivity(entity: EntityType) -> Sensitivity:
    """Sensitivity label an entity type gives the column holding it."""
    return _CATEGORY[entity.value][1]


def severity(entity: EntityType) -> Severity:
    """Finding severity for unprotected data of this type (for gates and SARIF)."""
    if category(entity) == "credential":
        return Severity.CRITICAL
    return {
        Sensitivity.RESTRICTED: Severity.HIGH,
        Sensitivity.CONFIDENTIAL: Severity.MEDIUM,
        Sensitivity.INTERNAL: Severity.LOW,
        Sensitivity.PUBLIC: Severity.INFO,
    }[sensitivity(entity)]
