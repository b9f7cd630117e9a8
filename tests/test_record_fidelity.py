"""Records that say what really happened (issue 11): the schema accepts the unusual but
legitimate practice and refuses what names nobody."""
from click.testing import CliRunner

from cli import main

CLIENT_AND_AUDIT = ("- {type: client, id: c1, name: Acme Hosting Ltd}\n"
                    "- {type: audit, id: a1, client: c1, audit_type: stage2, start_date: 2025-03-04}\n")


def validate(tmp_path, text):
    (tmp_path / "records.yaml").write_text(CLIENT_AND_AUDIT + text, encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    return result.exit_code, result.output


def test_an_external_party_needs_no_personnel_record(tmp_path):
    code, out = validate(tmp_path, "- {type: team_assignment, id: t1, audit: a1, role: observer, external_name: Wendy Witness,\n"
                                   "   external_organisation: UKAS, external_party: accreditation_body, client_agreed_date: 2025-02-01}\n")
    assert code == 0, out


def test_an_assignment_naming_nobody_is_an_input_problem(tmp_path):
    code, out = validate(tmp_path, "- {type: team_assignment, id: t1, audit: a1, role: observer}\n")
    assert code == 2 and "records.yaml:3 at /2: 'person' is missing" in out, out
