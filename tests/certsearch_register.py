"""Realistic IAF CertSearch 2.1 uploads of a CB certifying service management systems, built
deterministically (no randomness) so a test can assert exactly what a check of them gives.

clean_register: dozens of certified entities, each with one ISO/IEC 20000-1:2018 certificate,
one to three sites, its scheme and sector rows, everything as a register of conforming
certificates states it: initial certificates run three years less a day from issue; renewals
keep the original issue date and run on from the old expiry, whether issued on the old expiry or
two months before it; a transferred certificate keeps the issuing CB's original date and expiry;
a lapsed certificate is shown Expired, a withdrawn or cancelled one Withdrawn or Cancelled, a
suspended one Suspended within its validity, and a suspended-and-restored one Active again.

planted_register: the same register with one problem planted per register check and a few the
catalog already had; PLANTED lists the findings a check must give, exactly.
"""
from __future__ import annotations

import datetime as dt

from tests.test_import_certsearch import CERTS, ENTITY, SECTOR, SITES, STANDARDS

CITIES = [("United Kingdom", "Leeds", "LS1 4AP"), ("Ireland", "Cork", "T12 X2Y3"), ("Germany", "Köln", "50667"),
          ("Netherlands", "Utrecht", "3511 AB"), ("France", "Lyon", "69002"), ("Spain", "Valencia", "46001")]
SERVICES = ["service desk and incident management", "managed hosting", "network operations",
            "cloud platform operations", "application support", "payroll processing services"]
SECTORS = [("Information and communication", "J"), ("Financial and insurance activities", "K"),
           ("Professional, scientific and technical activities", "M")]


def _ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def _expiry(issued: dt.date) -> dt.date:
    return issued.replace(year=issued.year + 3) - dt.timedelta(days=1)


def _cycle(n: int, issued: dt.date) -> tuple[dt.date, dt.date]:
    """(original issue date, expiry) of certificate n issued on `issued`, by the kind of
    certificate n is (see the module's docstring)."""
    if n % 4 == 0:                                  # renewed on the old expiry
        return issued.replace(year=issued.year - 3), _expiry(issued)
    if n % 9 == 2:                                  # renewed two months before the old expiry
        original = (issued + dt.timedelta(days=60)).replace(year=issued.year - 3)
        return original, _expiry(original.replace(year=original.year + 3))
    if n % 7 == 5:                                  # transferred in: the issuing CB's cycle kept
        original = issued - dt.timedelta(days=400)
        return original, _expiry(original)
    return issued, _expiry(issued)                  # initial


def _status(n: int, expiry: dt.date, as_of: dt.date) -> str:
    if expiry < as_of:
        return "Expired"
    return {6: "Suspended", 9: "Withdrawn", 12: "Cancelled"}.get(n % 13, "Active")   # 12: restored, shown Active


def _certificate(n: int, as_of: dt.date) -> tuple[list, list, list, list, list]:
    """The entity row, certification row, site rows, standard row and sector row of entity n."""
    country, city, postcode = CITIES[n % len(CITIES)]
    entity_id, identity = f"ENT-{n:03d}", f"CERT-{n:03d}"
    name = f"Provider {n:03d} Services Ltd"
    entity = [entity_id, name, f"Provider {n:03d}", country, f"{n} Harbour Street", city, postcode]
    issued = dt.date(2023, 7, 3) + dt.timedelta(days=23 * n)
    if n % 10 == 7:                                 # a lapsed certificate, shown as such
        issued = dt.date(2020, 2, 3) + dt.timedelta(days=n)
    original, expiry = _cycle(n, issued)
    service = SERVICES[n % len(SERVICES)]
    scope = f"The service management system of {name} supporting the delivery of {service} to external customers"
    cert = [identity, entity_id, f"SMS-{n:05d}", _status(n, expiry, as_of), "Accredited",
            "Management System", scope, _ymd(original), _ymd(issued), _ymd(expiry)]
    sites = [[identity, country, f"{n} Harbour Street", city, f"Delivery of {service}"]]
    for extra in range(n % 3):
        other_country, other_city, _ = CITIES[(n + extra + 1) % len(CITIES)]
        sites.append([identity, other_country, f"{extra + 2} Data Park", other_city, f"Support of {service}"])
    standard = [identity, "IT Service Management Systems", "ISO/IEC 20000-1:2018"]
    sector = [identity, *SECTORS[n % len(SECTORS)]]
    return entity, cert, sites, standard, sector


def clean_register(count: int, as_of: dt.date) -> dict:
    """Sheet name -> rows of a clean CertSearch 2.1 upload with `count` certificates."""
    sheets = {"Certified Entity": [ENTITY], "Certifications": [CERTS], "Certification Sites": [SITES],
              "Certification Standard & Scheme": [STANDARDS], "Certification Sector": [SECTOR]}
    for n in range(1, count + 1):
        entity, cert, sites, standard, sector = _certificate(n, as_of)
        sheets["Certified Entity"].append(entity)
        sheets["Certifications"].append(cert)
        sheets["Certification Sites"].extend(sites)
        sheets["Certification Standard & Scheme"].append(standard)
        sheets["Certification Sector"].append(sector)
    return sheets


# Columns of the rows above (tests.test_import_certsearch's headers).
_STATUS, _ORIGINAL, _ISSUE, _EXPIRY, _NUMBER = 3, 7, 8, 9, 2
_STREET_TO_POSTCODE = slice(3, 7)

# (rule, client, record, field) of every finding the planted register gives at PLANTED_AS_OF
# (2026-06-01), each with the problem planted; CB-wide findings have no client.
PLANTED = [
    ("CRT005", "ENT-010", "CERT-010", "sites"),          # no Certification Sites row
    ("CRT008", "ENT-010", "CERT-010", "service_locations"),   # no sites: no location its services come from
    ("CRT012", "ENT-024", "CERT-024", "client_address"),      # its entity has no address (INF004 below)
    ("CRT006", "ENT-013", "CERT-013", "status"),         # expiry before issue, so "expired" and Active
    ("CRT006", "ENT-027", "CERT-027", "status"),         # lapsed in 2023, still Active
    ("CRT010", "ENT-030", "CERT-030", "status"),         # no Certification Status
    ("CRT017", "ENT-005", "CERT-005", "expiry_date"),    # initial, issued 2024-03-15, expires 2027-12-31
    ("CRT017", "ENT-014", "CERT-014", "expiry_date"),    # renewal counted three years from its issue date
    ("CRT018", "ENT-013", "CERT-013", "expiry_date"),    # expiry typed with the issue's year: before issue
    ("CRT019", "ENT-017", "CERT-017", "status"),         # lapsed in 2023, still Suspended
    ("CRT020", None, "CERT-020", "number"),              # CERT-021 carries CERT-020's number
    ("CRT021", "ENT-023", "CERT-023", "standard"),       # ISO/IEC 20000-1:2011, Active in 2026
    ("INF004", "ENT-024", "ENT-024", "address"),         # the certified entity has no address
]


def planted_register(count: int, as_of: dt.date) -> dict:
    """clean_register(count) with the problems of PLANTED (count >= 30)."""
    sheets = clean_register(count, as_of)
    certs = {row[0]: row for row in sheets["Certifications"][1:]}
    certs["CERT-005"][_STATUS] = "Active"
    certs["CERT-005"][_ORIGINAL:_EXPIRY + 1] = ["20240315", "20240315", "20271231"]
    certs["CERT-014"][_ORIGINAL:_EXPIRY + 1] = ["20210105", "20240301", "20270228"]
    certs["CERT-013"][_EXPIRY] = "20240426"             # issued 2024-04-27: 2027-04-26 was meant
    certs["CERT-017"][_STATUS] = "Suspended"
    certs["CERT-027"][_STATUS] = "Active"
    certs["CERT-030"][_STATUS] = None
    certs["CERT-021"][_NUMBER] = certs["CERT-020"][_NUMBER]
    for row in sheets["Certification Standard & Scheme"][1:]:
        if row[0] == "CERT-023":
            row[2] = "ISO/IEC 20000-1:2011"
    for row in sheets["Certified Entity"][1:]:
        if row[0] == "ENT-024":
            row[_STREET_TO_POSTCODE] = [None] * 4
    sheets["Certification Sites"] = [row for row in sheets["Certification Sites"] if row[0] != "CERT-010"]
    return sheets
