"""The built-in PII detectors (see ``interface.Detector``)."""

from __future__ import annotations

from mlward.data.pii.detectors.contact import EmailDetector, PhoneDetector
from mlward.data.pii.detectors.dates import DateOfBirthDetector
from mlward.data.pii.detectors.financial import CreditCardDetector, IbanDetector
from mlward.data.pii.detectors.government import (
    DeTaxIdDetector,
    EsDniDetector,
    EsNieDetector,
    FrNirDetector,
    InAadhaarDetector,
    InPanDetector,
    ItFiscalCodeDetector,
    UkNinoDetector,
    UsItinDetector,
    UsSsnDetector,
)
from mlward.data.pii.detectors.interface import Detector, Span, Verdict
from mlward.data.pii.detectors.location import AddressDetector, PostalCodeDetector
from mlward.data.pii.detectors.network import (
    IPv4Detector,
    IPv6Detector,
    MacAddressDetector,
    UrlCredentialsDetector,
)
from mlward.data.pii.detectors.person import PersonNameDetector
from mlward.data.pii.detectors.secrets import (
    AwsAccessKeyDetector,
    AzureKeyDetector,
    GcpApiKeyDetector,
    GithubTokenDetector,
    JwtDetector,
    PasswordAssignmentDetector,
    PasswordColumnDetector,
    PrivateKeyDetector,
    SecretAssignmentDetector,
    SecretColumnDetector,
    SlackTokenDetector,
    StripeKeyDetector,
)

__all__ = ["Detector", "Span", "Verdict", "default_detectors"]


def default_detectors() -> tuple[Detector, ...]:
    """One instance of every built-in detector."""
    return (
        EmailDetector(),
        PhoneDetector(),
        CreditCardDetector(),
        IbanDetector(),
        UsSsnDetector(),
        UsItinDetector(),
        UkNinoDetector(),
        DeTaxIdDetector(),
        FrNirDetector(),
        EsDniDetector(),
        EsNieDetector(),
        ItFiscalCodeDetector(),
        InAadhaarDetector(),
        InPanDetector(),
        IPv4Detector(),
        IPv6Detector(),
        MacAddressDetector(),
        UrlCredentialsDetector(),
        AwsAccessKeyDetector(),
        GcpApiKeyDetector(),
        AzureKeyDetector(),
        GithubTokenDetector(),
        SlackTokenDetector(),
        StripeKeyDetector(),
        PrivateKeyDetector(),
        JwtDetector(),
        PasswordAssignmentDetector(),
        SecretAssignmentDetector(),
        PasswordColumnDetector(),
        SecretColumnDetector(),
        AddressDetector(),
        PostalCodeDetector(),
        DateOfBirthDetector(),
        PersonNameDetector(),
    )
