"""A client's Outlook mail with winmail.dat: the ticket shows the real files, stored
content-addressed in Azurite, through the Graph fake and the CLI."""
from __future__ import annotations

from shared_code.adapters.names import ATTACHMENTS
from shared_code.services.fetch import fetch_all
from tests.data.tnef_writer import attachment, outlook_mail, tnef

from .helpers import SUPPORT, run_cli


def _entry():
    _, tickets = run_cli("tickets", "list", "--json")
    return run_cli("tickets", "show", tickets[0]["number"], "--json")[1]["entries"][0]


def test_winmail_dat_becomes_its_files_on_the_ticket(desk, graph):
    sheet = b"PK\x03\x04" + bytes(range(256)) * 8
    graph.add_message(SUPPORT, outlook_mail(tnef(attachment("BUDGET~1.XLS", sheet, long_name="Budget 2025.xlsx"))))
    [summary] = fetch_all(desk)
    assert summary.created == 1
    entry = _entry()
    [stored] = entry["attachments"]
    assert stored["name"] == "Budget 2025.xlsx" and stored["size"] == len(sheet)
    assert desk.blobs.get(ATTACHMENTS, stored["sha256"]) == sheet


def test_a_corrupt_winmail_dat_is_kept_and_the_mail_is_still_a_ticket(desk, graph):
    broken = tnef(attachment("A.TXT", b"abc"))[:-5]
    graph.add_message(SUPPORT, outlook_mail(broken))
    [summary] = fetch_all(desk)
    assert summary.created == 1 and summary.errors == []
    entry = _entry()
    assert [a["name"] for a in entry["attachments"]] == ["winmail.dat"]
    assert any("TNEF" in d for d in entry["defects"])
