"""Column names as evidence: which entity types a column's name suggests.

Real tables name the same thing many ways (``dob``, ``DateOfBirth``, ``geburtsdatum``,
``fecha_nacimiento``, ``date_naiss``), so names are split into folded tokens (see
``text.name_tokens``) and matched three ways: whole tokens, substrings of the compact
name for long distinctive stems, and token pairs. A hint never classifies a column by
itself: it only lets format-plausible values count (see ``detectors.interface.Verdict``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlward.data.pii.entities import GOVERNMENT_IDS
from mlward.data.pii.entities import EntityType as E
from mlward.data.pii.text import name_tokens


@dataclass(frozen=True)
class _Vocab:
    tokens: frozenset[str]
    stems: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    negatives: frozenset[str] = frozenset()


def _v(tokens: str, stems: str = "", pairs: str = "", negatives: str = "") -> _Vocab:
    return _Vocab(
        frozenset(tokens.split()),
        tuple(stems.split()),
        tuple((p.split("+")[0], p.split("+")[1]) for p in pairs.split()),
        frozenset(negatives.split()),
    )


_NOT_A_PERSON = (
    "file host user username company product city street country state domain table column "
    "model app brand item category dataset bank job team project org organization business "
    "store shop event place type field key device server sheet tag label service package "
    "display screen login account school university hospital region town village district "
    "department branch vendor supplier merchant venue hotel ship vessel plan group role class "
    "species variable feature metric attribute param parameter object image font color"
)
_GOVERNMENT_GENERIC = _v(
    "nationalid idnumber taxid tin taxpayer taxnumber personalnumber personnummer",
    "nationalid identitynumber taxid taxpayer",
    "national+id id+number tax+id tax+number tax+code personal+id",
)

VOCABULARY: dict[E, _Vocab] = {
    E.EMAIL: _v(
        "email mail courriel correo mel epost eposta sahkoposti",
        "email courriel correo mailadres emailadres",
        negatives="server host domain sent opened bounced status",
    ),
    E.PHONE: _v(
        "phone tel telephone telefono telefon telefone mobile mobil mob cell cellphone handy "
        "fax movil cellulare portable gsm msisdn tlf tfno whatsapp",
        "phone telef mobile cellul handynummer rufnummer",
        "contact+number contact+no",
        negatives="model type brand os make",
    ),
    E.PERSON: _v(
        "firstname lastname fname lname surname forename givenname fullname nachname vorname "
        "prenom apellido apellidos cognome achternaam voornaam nazwisko imie sobrenome "
        "efternamn fornavn etternavn cardholder nom nombre nome naam",
        "firstname lastname fullname givenname familyname surname nachname vorname prenom apellido cognome",
        "first+name last+name given+name family+name full+name",
        negatives=_NOT_A_PERSON,
    ),
    E.ADDRESS: _v(
        "address addr adresse adres direccion indirizzo endereco street strasse rue calle "
        "anschrift domicile domicilio residence addressline address1 address2 line1",
        "address adress street strasse direcc indirizz anschrift domicil",
        negatives="ip mac email mail web url wallet ether btc server host memory ipv4 ipv6",
    ),
    E.POSTAL_CODE: _v(
        "zip zipcode postcode postal plz cap cp pincode postleitzahl cpostal postnummer postnr codpostal",
        "zipcode postcode postalcode postleitzahl codigopostal codepostal",
        negatives="market size limit max min rate ratio",
    ),
    E.DATE_OF_BIRTH: _v(
        "dob bday birthday birthdate geburtsdatum geburtstag gebdat naissance nacimiento "
        "nascita ddn fnac dtnasc",
        "birth geburt naissance naiss nacimiento nascita",
        "fecha+nac fec+nac data+nascita date+naiss",
    ),
    E.CREDIT_CARD: _v(
        "card cc ccn creditcard cardnumber cardno pan kreditkarte carte tarjeta carta",
        "creditcard cardnum cardno ccnum kreditkart tarjeta",
        "card+number card+no credit+card",
    ),
    E.IBAN: _v("iban rib kontonummer", "iban", "bank+account account+number"),
    E.US_SSN: _v("ssn ssns socialsecurity", "socialsecurity socsec", "social+security"),
    E.US_ITIN: _v("itin"),
    E.UK_NINO: _v("nino nin", "nino nationalinsurance", "ni+number ni+no national+insurance"),
    E.DE_TAX_ID: _v("idnr steuerid", "steuerid steueridentifikation idnr", "steuer+id"),
    E.FR_NIR: _v("nir insee secu", "securitesociale insee", "securite+sociale"),
    E.ES_DNI: _v("dni nif"),
    E.ES_NIE: _v("nie"),
    E.IT_FISCAL_CODE: _v("cf codfisc codicefiscale", "codicefiscale codfisc fiscalcode", "codice+fiscale"),
    E.IN_AADHAAR: _v("aadhaar aadhar uidai", "aadha"),
    E.IN_PAN: _v("pan pancard", "pancard", "pan+number pan+no"),
    E.IP_ADDRESS: _v("ip ipaddress ipv4 ipv6 ipaddr", "ipaddr ipv4 ipv6", "remote+addr"),
    E.MAC_ADDRESS: _v("mac macaddress hwaddr bssid", "macaddr"),
    E.PASSWORD: _v(
        "password passwd pwd passwort kennwort contrasena motdepasse mdp senha wachtwoord",
        "password passwd passwort contrasen motdepasse",
        negatives="hash hashed digest salt reset changed expires expiry updated policy length last count",
    ),
    E.SECRET: _v(
        "secret apikey token credentials credential bearer",
        "secret apikey accesskey privatekey credential authtoken accesstoken",
        "api+key access+key private+key client+secret",
        negatives="count type expires expiry created name id ttl",
    ),
}


def _matches(vocab: _Vocab, tokens: tuple[str, ...], compact: str) -> bool:
    if vocab.negatives.intersection(tokens):
        return False
    if vocab.tokens.intersection(tokens) or vocab.tokens.intersection((compact,)):
        return True
    if any(stem in compact for stem in vocab.stems):
        return True
    present = set(tokens)
    return any(a in present and b in present for a, b in vocab.pairs)


def hints_for(column: str) -> frozenset[E]:
    """Entity types the column name ``column`` is evidence for (may be empty)."""
    tokens = name_tokens(column)
    compact = "".join(tokens)
    found = {entity for entity, vocab in VOCABULARY.items() if _matches(vocab, tokens, compact)}
    if E.PERSON not in found and "name" in tokens and not VOCABULARY[E.PERSON].negatives.intersection(tokens):
        found.add(E.PERSON)
    if _matches(_GOVERNMENT_GENERIC, tokens, compact):
        found.update(GOVERNMENT_IDS)
    return frozenset(found)
