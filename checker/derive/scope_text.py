"""Whether an SMS certificate names the services in its scope (ISO/IEC 20000-6 SM 8.2; CRT008).

A CB's own records may list the services (`certificate.services`); a register such as an IAF
CertSearch upload holds only the scope as free text, and its importer marks `services` as not
in the source. An assessor reading such a scope accepts it when it says which services are
certified ("... supporting the delivery of managed hosting and service desk services") and
raises it when it does not ("IT services", "as per contract", "ISO/IEC 20000-1"). No comparison
of the check language can tell these apart; this is the one reading of that text.

The reading: a scope text names a service when, once the standard references (ISO/IEC
20000-1:2018, numbers) and the certified organisation's own name are taken out, at least
`scope_service_min_words` words remain that are not in `scope_generic_words` (words that
describe any IT service provider or a scope's wording, never a service: "IT", "services",
"management", "system", "customers", "contract", "provision", ...). The word list and the
threshold are parameters (rules/parameters.d/certificate-scope.yaml) to tune to the CB's
scope wording.
"""
from __future__ import annotations

import re

from checker.derive.model import DerivedField, Records
from checker.records.schema_registry import FieldInfo

GENERIC_WORDS = "scope_generic_words"
MIN_WORDS = "scope_service_min_words"

# A standard reference ("ISO/IEC 20000-1:2018", "ISO 9001", "BS EN ISO/IEC 27001") or any number.
_STANDARD = re.compile(r"\b(?:bs\s+)?(?:en\s+)?iso(?:\s*/\s*iec)?\b|\b\d[\d\-:./]*\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, without standard references and numbers."""
    return [w.casefold() for w in _WORD.findall(_STANDARD.sub(" ", text))]


def service_words(scope: str, own_names: list[str], generic: set[str]) -> list[str]:
    """The words of the scope that could name a service: neither generic nor the certified
    organisation's own name (a provider called "Acme Hosting Ltd" does not make "hosting" a
    service of the scope)."""
    own = {w for name in own_names for w in words(name)}
    return [w for w in words(scope) if w not in generic and w not in own]


def names_services(scope: str, own_names: list[str], params: dict) -> bool:
    generic = {w.casefold() for w in params[GENERIC_WORDS]}
    return len(set(service_words(scope, own_names, generic))) >= params[MIN_WORDS]


def _services_not_named(cert: dict, records: Records):
    services = cert.get("services")
    if isinstance(services, list):
        return None if services else "its list of services is empty"
    scope = cert.get("scope")
    if not isinstance(scope, str) or not scope.strip():
        return "it neither lists services nor has a scope text"
    own = [v for v in (cert.get("client_name"), cert.get("service_provider")) if isinstance(v, str)]
    if names_services(scope, own, records.params):
        return None
    return f"its scope text names no service (\"{' '.join(scope.split())}\")"


FIELDS = (
    DerivedField("services_not_named", "certificate", FieldInfo("string"),
                 "why the certificate does not name the services in its scope: an empty services list; no services "
                 "list and no scope text; or no services list and a scope text in which, without standard "
                 "references and the organisation's own name, fewer than scope_service_min_words words are outside "
                 "scope_generic_words (checker/derive/scope_text.py); absent when a non-empty services list or the "
                 "scope text names them", (GENERIC_WORDS, MIN_WORDS), _services_not_named),
)
