"""Finding 7: procedure levels after the two-level local government, and agencies by name.

Since 1 July 2025 local government has two levels, province and commune (Law on the
Organisation of Local Government No. 72/2025/QH15; Resolution 202/2025/QH15 ended the district
level on 1 July 2025). A `district` procedure is kept for the dossiers received before that day
(their histories must still load and count) and refused for a dossier received on or after it.
Agencies are named from LEDGER_AGENCIES_FILE (code -> Vietnamese name).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from application.catalogue import DataFileError, load_agencies
from domain.errors import DistrictLevelAbolished
from domain.procedures import LEVELS
from tests.unit.stories import DISTRICT, Story, at


def test_the_levels_are_central_province_commune_and_the_old_district() -> None:
    assert {"central", "province", "commune", "district"} == LEVELS


def test_a_district_procedure_is_received_until_30_june_2025() -> None:
    """Received Mon 30/6/2025 16:00, the district's last day: recorded, 15 calendar days from
    1/7 (the first day is not counted, Civil Code art. 147): due Tue 15/7/2025 17:00."""
    dossier = Story().received(DISTRICT, at(2025, 6, 30, 16))
    assert dossier.due_at == at(2025, 7, 15, 17)


def test_a_district_procedure_is_refused_from_1_july_2025() -> None:
    """Received Tue 1/7/2025 08:00: no district government exists any more; the sender must use
    the procedure's province or commune version."""
    with pytest.raises(DistrictLevelAbolished, match="2025-07-01") as refused:
        Story().received(DISTRICT, at(2025, 7, 1, 8))
    assert refused.value.rule == "district_level_abolished"
    assert refused.value.field == "data.procedure_code"


def test_the_day_of_receipt_is_the_local_date() -> None:
    """30/6/2025 23:30 in Hà Nội is 16:30 UTC the same day; 1/7 00:30 local is 30/6 17:30 UTC,
    yet it is 1 July where the rule applies: refused."""
    Story().received(DISTRICT, at(2025, 6, 30, 23, 30))
    with pytest.raises(DistrictLevelAbolished):
        Story().received(DISTRICT, at(2025, 7, 1, 0, 30))


def test_the_shipped_agencies_name_the_sample_codes_in_vietnamese() -> None:
    names = load_agencies(None)
    assert names["000.00.31.H56"] == "Sở Tài chính"
    assert names["000.21.20.H56"] == "Ủy ban nhân dân phường Tân Ninh"


def test_an_agencies_file_replaces_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "agencies.json"
    path.write_text(json.dumps({"000.00.13.H56": " Sở Tư pháp tỉnh "}), encoding="utf-8")
    assert load_agencies(path) == {"000.00.13.H56": "Sở Tư pháp tỉnh"}


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('["000.00.13.H56"]', "must be an object"),
        ('{"H56": "Tỉnh"}', "not an agency code"),
        ('{"000.00.13.H56": ""}', "non-empty string"),
    ],
)
def test_a_bad_agencies_file_is_refused_naming_the_problem(
    tmp_path: Path, content: str, says: str
) -> None:
    path = tmp_path / "agencies.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFileError, match=says):
        load_agencies(path)
