"""IAF CertSearch certification upload workbooks -> client and certificate records: the
template versions, status terms, dates, sites, standards, and what the certificate rules
can do with certificate-only data. The workbooks are built here in the layouts IAF CertSearch
documents for its CB upload template (legacy, 1.1, 2.0, 2.1); nothing is read from outside
the repository and nothing is downloaded."""
from __future__ import annotations

import datetime as dt

import pytest

from checker.importers.certsearch import (CERTSEARCH_STATUSES, FLAT_LAYOUT, STATUS_TERMS, detect_version,
                                          is_certsearch_workbook, load_certsearch, read_certsearch, record_id)
from checker.importers.dispatch import detect_source, run_import
from tests.helpers import shipped_rules, workbook
from checker.pipeline import load_input, run_check
from checker.records.index import build_index
from checker.records.validate import validate_record

ENTITY = ["Certified Entity Unique ID", "Certified Entity Name", "Certified Entity Trading Name",
          "Country/Economy", "Street", "City", "Zipcode/Postcode"]
CERTS = ["Certification Identity Number", "Certified Entity Unique ID", "Certificate Number", "Certification Status",
         "Accreditation Status", "Certification Type", "Certification Scope", "Certification Original Issue Date",
         "Certification Issue Date", "Certification Expiry Date"]
SITES = ["Certification Identity Number", "Site Country/Economy", "Site Street", "Site City", "Site Scope"]
STANDARDS = ["Certification Identity Number", "Scheme Name", "Standard Name"]
SECTOR = ["Certification Identity Number", "Sector Name", "Sector Code"]


def v2_sheets(version="2.1", status="Active", expiry="20270104"):
    sheets = {
        "Instructions": [["Fill in one row per certification."]],
        "Certified Entity": [ENTITY,
                             ["UNIQUEID-COMPANY01", "Northwind IT Services Ltd", "Northwind", "United Kingdom",
                              "5 Quay Road", "Hull", "HU1 1AA"],
                             ["ACME #2/UK", "Acme Ltd", None, "United Kingdom", None, "Leeds", None]],
        "Certifications": [CERTS,
                           ["UNIQUEID-CERT01", "UNIQUEID-COMPANY01", "NW-001", status, "Accredited", "Management System",
                            "Managed IT services", "20210105", "20240105", expiry],
                           ["CERT 02", "ACME #2/UK", "AC-2", "suspended", "Accredited", "Management System", "Hosting",
                            None, dt.date(2024, 1, 5), 20270104]],
        "Certification Sites": [SITES,
                                ["UNIQUEID-CERT01", "United Kingdom", "5 Quay Road", "Hull", "Service desk"],
                                ["UNIQUEID-CERT01", "Ireland", None, "Dublin", "Hosting"]],
        "Certification Standard & Scheme": [STANDARDS,
                                            ["UNIQUEID-CERT01", "IT Service Management Systems", "ISO/IEC 20000-1:2018"],
                                            ["CERT 02", "Information Security Management Systems", "ISO/IEC 27001:2022"]],
    }
    if version == "2.1":
        sheets["Certification Sector"] = [SECTOR, ["UNIQUEID-CERT01", "Information and communication", "J"]]
    return sheets


NW_CERT = {
    "type": "certificate", "id": "UNIQUEID-CERT01", "client": "UNIQUEID-COMPANY01", "number": "NW-001",
    "status": "active", "scope": "Managed IT services", "original_issue_date": "2021-01-05",
    "issue_date": "2024-01-05", "expiry_date": "2027-01-04",
    "sites": ["5 Quay Road, Hull, United Kingdom", "Dublin, Ireland"], "standard": "ISO/IEC 20000-1:2018",
    "client_name": "Northwind IT Services Ltd", "client_address": "5 Quay Road, Hull, HU1 1AA, United Kingdom",
    "effective_date": "2024-01-05", "service_provider": "Northwind IT Services Ltd",
    "service_locations": ["5 Quay Road, Hull, United Kingdom", "Dublin, Ireland"],
    "x-derived": ["effective_date", "service_provider", "service_locations"],
    "x-not-in-source": ["cb_name", "replaces", "services"],
    "x-certsearch": {
        "identity_number": "UNIQUEID-CERT01", "status": "Active", "certification_type": "Management System",
        "accreditation_status": "Accredited",
        "sites": [{"street": "5 Quay Road", "city": "Hull", "country": "United Kingdom", "site_scope": "Service desk"},
                  {"city": "Dublin", "country": "Ireland", "site_scope": "Hosting"}],
        "standards": [{"scheme_name": "IT Service Management Systems", "standard_name": "ISO/IEC 20000-1:2018"}],
        "sectors": [{"sector_name": "Information and communication", "sector_code": "J"}],
    },
}


def by_id(records):
    return {r["id"]: r for r in records}


def test_version_21_read_in_full(tmp_path):
    records, problems, summary = read_certsearch(workbook(tmp_path / "cb_certs.xlsx", v2_sheets()))
    assert problems == []
    assert (summary["version"], summary["version_detected"]) == ("2.1", "2.1")
    got = by_id(records)
    assert got["UNIQUEID-CERT01"] == NW_CERT
    assert got["UNIQUEID-COMPANY01"] == {
        "type": "client", "id": "UNIQUEID-COMPANY01", "name": "Northwind IT Services Ltd",
        "address": "5 Quay Road, Hull, HU1 1AA, United Kingdom",
        "x-certsearch": {"unique_id": "UNIQUEID-COMPANY01", "trading_name": "Northwind", "street": "5 Quay Road",
                         "city": "Hull", "postcode": "HU1 1AA", "country": "United Kingdom"}}
    acme = record_id("ACME #2/UK")
    cert2 = got[record_id("CERT 02")]
    assert cert2["client"] == acme and cert2["status"] == "suspended" and cert2["issue_date"] == "2024-01-05"
    assert cert2["expiry_date"] == "2027-01-04" and cert2["standard"] == "ISO/IEC 27001:2022"
    assert got[acme]["x-certsearch"]["unique_id"] == "ACME #2/UK"
    assert summary["sheets_ignored"] == ["Instructions"]
    assert summary["records_made"] == {"client": 2, "certificate": 2}
    assert summary["status_terms"] == {"Active -> active": 1, "suspended -> suspended": 1}
    assert [s["role"] for s in summary["sheets"]] == ["entity", "certifications", "sites", "standards", "sector"]


def test_version_20_has_no_sector_sheet(tmp_path):
    path = workbook(tmp_path / "cb_certs.xlsx", v2_sheets("2.0"))
    records, problems, summary = read_certsearch(path)
    assert problems == [] and summary["version"] == "2.0"
    assert "sectors" not in by_id(records)["UNIQUEID-CERT01"]["x-certsearch"]
    _, problems, _ = read_certsearch(path, version="2.1")     # declared 2.1: its sector tab is voluntary
    assert problems == []
    _, problems, _ = read_certsearch(workbook(tmp_path / "v21.xlsx", v2_sheets("2.1")), version="2.0")
    assert "Certification Sector sheet, which came with 2.1" in problems[0].message


def flat_sheets():
    header = ["Certification Identity Number", "Certificate Number", "Certification Status", "Certification Scope",
              "Certification Issue Date", "Certification Expiry Date", "Certified Entity Unique ID",
              "Certified Entity Name", "Certified Entity City", "Certified Entity Country"]
    return {"Certifications": [header,
                               ["C1", "N-1", "Active", "Hosting", "20240105", "20270104", "E1", "Entity One", "Hull", "UK"],
                               ["C2", "N-2", "Expired", "Hosting", "20200105", "20230104", "E1", "Entity One", None, None]]}


def test_legacy_flat_layout_has_the_entity_on_the_certification_rows(tmp_path):
    records, problems, summary = read_certsearch(workbook(tmp_path / "legacy.xlsx", flat_sheets()))
    assert problems == []
    assert summary["version_detected"] == FLAT_LAYOUT
    assert by_id(records)["E1"] == {"type": "client", "id": "E1", "name": "Entity One", "address": "Hull, UK",
                                    "x-certsearch": {"unique_id": "E1", "city": "Hull", "country": "UK"}}
    assert [r["client"] for r in records if r["type"] == "certificate"] == ["E1", "E1"]
    for version in ("legacy", "1.1"):
        assert read_certsearch(tmp_path / "legacy.xlsx", version=version)[1] == []
    _, problems, _ = read_certsearch(tmp_path / "legacy.xlsx", version="2.0")
    assert "no Certified Entity sheet" in problems[0].message


def test_an_entity_told_two_ways_is_a_problem_not_a_pick(tmp_path):
    sheets = flat_sheets()
    sheets["Certifications"][2][7] = "Entity 1 Limited"
    records, problems, _ = read_certsearch(workbook(tmp_path / "legacy.xlsx", sheets))
    assert records == []     # the entity is refused, and with it both of its certificates
    clash = next(p for p in problems if p.line == 3 and "column H" in p.message)
    assert "has 'Certified Entity Name' 'Entity One' on legacy.xlsx[Certifications] row 2" in clash.message


def test_xml_field_names_work_as_headers(tmp_path):
    header = ["certification_identity_number", "certificate_number", "certification_status",
              "certification_issue_date", "certification_expiry_date", "certified_entity_unique_id",
              "certified_entity_name"]
    path = workbook(tmp_path / "x.xlsx", {"certifications": [header, ["C1", "N-1", "ACTIVE", "20240105", "20270104", "E1", "E"]]})
    records, problems, _ = read_certsearch(path)
    assert problems == [] and by_id(records)["C1"]["status"] == "active"


@pytest.mark.parametrize("term, ours", sorted(STATUS_TERMS.items()))
def test_documented_status_terms(tmp_path, term, ours):
    records, problems, summary = read_certsearch(workbook(tmp_path / "s.xlsx", v2_sheets(status=term.title())))
    assert problems == [] and by_id(records)["UNIQUEID-CERT01"]["status"] == ours
    assert by_id(records)["UNIQUEID-CERT01"]["x-certsearch"]["status"] == term.title()


@pytest.mark.parametrize("term, why", [("Inactive", "no cbcheck equivalent"), ("Draft", "unfinished"),
                                       ("Hidden", "legacy name of Draft"), ("Valid", "not a CertSearch certification status"),
                                       ("Revoked", "not a CertSearch certification status")])
def test_statuses_without_an_equivalent_are_reported(tmp_path, term, why):
    records, problems, _ = read_certsearch(workbook(tmp_path / "s.xlsx", v2_sheets(status=term)))
    assert "UNIQUEID-CERT01" not in by_id(records)
    assert [(p.file, p.line, p.pointer) for p in problems] == [("s.xlsx[Certifications]", 2, "/status")]
    assert problems[0].message.startswith(f"column D 'Certification Status', value {term!r}: ")
    assert why in problems[0].message and CERTSEARCH_STATUSES in problems[0].expected


def test_status_map_says_what_a_term_means_for_this_cb(tmp_path):
    path = workbook(tmp_path / "s.xlsx", v2_sheets(status="Inactive"))
    records, problems, summary = read_certsearch(path, status_map={"inactive": "expired"})
    assert problems == [] and by_id(records)["UNIQUEID-CERT01"]["status"] == "expired"
    assert summary["status_terms"]["Inactive -> expired"] == 1
    _, problems, _ = read_certsearch(path, status_map={"Inactive": "dormant"})
    assert problems[0].file == "status_map" and "dormant" in problems[0].message


@pytest.mark.parametrize("cell, ok", [("20270104", True), (20270104, True), (dt.datetime(2027, 1, 4), True),
                                      ("2027-01-04", True), ("04/01/2027", False), ("4.1.2027", False),
                                      ("20270230", False)])
def test_dates(tmp_path, cell, ok):
    records, problems, _ = read_certsearch(workbook(tmp_path / "d.xlsx", v2_sheets(expiry=cell)))
    if ok:
        assert problems == [] and by_id(records)["UNIQUEID-CERT01"]["expiry_date"] == "2027-01-04"
    else:
        assert "UNIQUEID-CERT01" not in by_id(records)
        assert [(p.line, p.pointer) for p in problems] == [(2, "/expiry_date")]
        assert f"column J 'Certification Expiry Date', value {cell!r}" in problems[0].message
        assert "YYYYMMDD" in problems[0].expected


def test_unknown_columns_are_problems_unless_ignored(tmp_path):
    sheets = v2_sheets()
    sheets["Certifications"][0] = sheets["Certifications"][0] + ["Internal owner"]
    sheets["Certifications"][1] = sheets["Certifications"][1] + ["Jo"]
    path = workbook(tmp_path / "u.xlsx", sheets)
    records, problems, summary = read_certsearch(path)
    assert [(p.file, p.line) for p in problems][:1] == [("u.xlsx[Certifications]", 1)]
    assert "column K 'Internal owner' is not a column of the CertSearch certifications sheet" in problems[0].message
    assert not any(r["type"] == "certificate" for r in records)
    records, problems, _ = read_certsearch(path, ignore_columns=("internal owner",))
    assert problems == [] and by_id(records)["UNIQUEID-CERT01"] == NW_CERT


def test_rows_that_tie_to_nothing_are_reported(tmp_path):
    sheets = v2_sheets()
    sheets["Certification Sites"].append(["NO-SUCH-CERT", "France", None, "Paris", None])
    sheets["Certifications"].append(["C3", "NOBODY", "N-3", "Active", None, None, None, None, "20240105", "20270104"])
    sheets["Certifications"].append(["UNIQUEID-CERT01", "UNIQUEID-COMPANY01", "dup", "Active", None, None, None, None, None, None])
    records, problems, summary = read_certsearch(workbook(tmp_path / "t.xlsx", sheets))
    got = {(p.file.split("[")[1].rstrip("]"), p.line): p.message for p in problems}
    assert "no certificate with this identity number" in got[("Certification Sites", 4)]
    assert "no row with this ID on the Certified Entity sheet" in got[("Certifications", 4)]
    assert "identity number again; first on row 2" in got[("Certifications", 5)]
    assert summary["records_made"] == {"client": 2, "certificate": 2}


def test_record_ids_are_kept_when_valid_and_made_unique_when_not():
    assert record_id("UNIQUEID-CERT01") == "UNIQUEID-CERT01"
    assert record_id("ACME #2/UK") == record_id(" ACME #2/UK ")
    assert record_id("ACME #2/UK") != record_id("ACME+2/UK")
    assert record_id("株式会社") .startswith("id-")


def test_detection():
    assert detect_version({"certifications", "entity", "sector"}) == "2.1"
    assert detect_version({"certifications", "entity"}) == "2.0"
    assert detect_version({"certifications"}) == FLAT_LAYOUT


def test_dispatch_recognises_a_certsearch_workbook(tmp_path):
    path = workbook(tmp_path / "cb_certs.xlsx", v2_sheets())
    assert is_certsearch_workbook(path) and detect_source(path) == "certsearch"
    other = workbook(tmp_path / "other.xlsx", {"Certifications": [["Number"], ["1"]]})
    assert not is_certsearch_workbook(other) and detect_source(other) == "tabular"


def test_located_records_for_the_pipeline(tmp_path):
    result = load_certsearch(workbook(tmp_path / "cb_certs.xlsx", v2_sheets()))
    assert result.problems == []
    cert = next(r for r in result.records if r.id == "UNIQUEID-CERT01")
    assert (cert.file, cert.line_of("/status"), cert.line_of("/sites/1")) == ("cb_certs.xlsx[Certifications]", 2, 2)
    assert [p for r in result.records for p in validate_record(r)] == []
    assert build_index(result.records)[1] == []


def test_certificate_rules_on_certificate_only_data(tmp_path):
    """What the certificate-register rules make of a CertSearch upload alone (no decisions,
    no audits): the register's own content satisfies the content checks (name, address,
    provider, locations, effective date, services named in the scope text); what it cannot carry
    (the CB's name) leaves its rule not_assessed instead of a finding on every certificate."""
    problems, _ = run_import("certsearch", workbook(tmp_path / "cb_certs.xlsx", v2_sheets()), tmp_path / "out")
    assert problems == [] and load_input(tmp_path / "out").problems == []
    rules, params = shipped_rules({"CRT005", "CRT006", "CRT007", "CRT008", "CRT012"})
    report = run_check(tmp_path / "out", rules, params, dt.date(2027, 6, 1))
    findings = sorted((f["rule_id"], f["record_id"], f["pointer"].rsplit("/", 1)[-1]) for f in report["findings"])
    assert findings == [("CRT005", record_id("CERT 02"), "sites"),     # CERT 02 has no Certification Sites row
                        ("CRT006", "UNIQUEID-CERT01", "status"),        # active, expired 2027-01-04
                        ("CRT008", record_id("CERT 02"), "service_locations"),   # no sites: no service location
                        ("CRT008", "UNIQUEID-CERT01", "scope")]         # "Managed IT services" names no service
    status = {r["id"]: r["status"] for r in report["requirements"]}
    assert status["CRT005"] != "not_assessed"                           # judged: effective date derived
    assert status["CRT007"] == "not_assessed"                           # needs suspension decisions
    assert status["CRT008"] == "nonconforming"                          # judged on the scope text and the sites
    assert status["CRT012"] == "not_assessed"                           # no column names the CB


def test_no_issue_date_means_no_effective_date(tmp_path):
    sheets = v2_sheets()
    sheets["Certifications"][2][8] = None
    records, problems, _ = read_certsearch(workbook(tmp_path / "cb_certs.xlsx", sheets))
    assert problems == []
    cert2 = by_id(records)[record_id("CERT 02")]
    assert "effective_date" not in cert2 and "effective_date" in cert2["x-not-in-source"]
    assert cert2["x-derived"] == ["service_provider"]
    assert "effective_date" not in by_id(records)["UNIQUEID-CERT01"]["x-not-in-source"]
