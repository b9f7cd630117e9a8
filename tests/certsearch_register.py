"""A realistic, clean IAF CertSearch 2.1 upload of a CB certifying service management systems:
dozens of certified entities, each with one ISO/IEC 20000-1:2018 certificate, one to three
sites, its scheme and sector rows. Built deterministically (no randomness), so a test can
assert exactly what a check of it gives. Everything in it is as a register of conforming
certificates would state it: initial certificates run three years less a day from issue,
renewals keep the original issue date and run three years from their new issue date, and a
certificate whose expiry has passed is shown Expired."""
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


def _certificate(n: int, as_of: dt.date) -> tuple[list, list, list, list, list]:
    """The entity row, certification row, site rows, standard row and sector row of entity n."""
    country, city, postcode = CITIES[n % len(CITIES)]
    entity_id, identity = f"ENT-{n:03d}", f"CERT-{n:03d}"
    name = f"Provider {n:03d} Services Ltd"
    entity = [entity_id, name, f"Provider {n:03d}", country, f"{n} Harbour Street", city, postcode]
    issued = dt.date(2023, 7, 3) + dt.timedelta(days=23 * n)
    if n % 10 == 7:                                 # a lapsed certificate, shown as such
        issued = dt.date(2020, 2, 3) + dt.timedelta(days=n)
    original = issued.replace(year=issued.year - 3) if n % 4 == 0 else issued       # every 4th a renewal
    expired = _expiry(issued) < as_of
    service = SERVICES[n % len(SERVICES)]
    scope = f"The service management system of {name} supporting the delivery of {service} to external customers"
    cert = [identity, entity_id, f"SMS-{n:05d}", "Expired" if expired else "Active", "Accredited",
            "Management System", scope, _ymd(original), _ymd(issued), _ymd(_expiry(issued))]
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
