"""Free-text scope statements judged as an assessor would (issue 11): with the shipped word list
and threshold (rules/parameters.d/certificate-scope.yaml), the scopes registers commonly hold,
which name their services, pass, and vague ones do not (checker/derive/scope_text.py)."""
import pytest

from checker.derive.scope_text import names_services, service_words
from tests.helpers import shipped_rules

_, PARAMS = shipped_rules()
OWN = ["Northbridge Data Services Ltd"]

NAMING = [
    "The service management system of Northbridge Data Services Ltd supporting the delivery of managed hosting "
    "and service desk services to external customers",
    "Provision of cloud infrastructure, backup and disaster recovery services from data centres in Leeds and Cork",
    "IT service management system for the design, transition and operation of payroll processing services",
    "Service desk, incident and problem management for retail point-of-sale systems",
    "The SMS supporting the provision of managed network, telephony and end-user computing services in "
    "accordance with the service catalogue",
    "Application support and maintenance of the customer's ERP platform",
]
VAGUE = [
    "IT services",
    "IT Services as per contract",
    "ISO/IEC 20000-1:2018",
    "Service management system",
    "The provision of IT services to customers",
    "Information technology service management in accordance with ISO/IEC 20000-1:2018",
    "Managed services as defined in the service catalogue",
    "Northbridge Data Services Ltd",
]


@pytest.mark.parametrize("scope", NAMING)
def test_scopes_that_name_their_services_pass(scope):
    assert names_services(scope, OWN, PARAMS.values()), service_words(scope, OWN, set(PARAMS.values()["scope_generic_words"]))


@pytest.mark.parametrize("scope", VAGUE)
def test_vague_scopes_draw_the_finding(scope):
    generic = set(PARAMS.values()["scope_generic_words"])
    assert not names_services(scope, OWN, PARAMS.values()), service_words(scope, OWN, generic)


def test_the_word_list_is_read_whatever_the_case():
    assert service_words("Managed HOSTING by ISO 9001 Ltd", [], {"managed", "by", "ltd"}) == ["hosting"]
