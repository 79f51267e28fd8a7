"""Loading the procedure catalogue and the calendar overrides from the operator's files."""

import json
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest

from application.catalogue import DataFileError, load_calendar, load_procedures
from domain.calendar import LOCAL_TZ
from domain.procedures import LEVELS, PROCEDURE_CODE_PATTERN, ProcessingTime, TimeUnit

EXAMPLE_CALENDAR = Path(str(resources.files("application") / "data" / "calendar.example.toml"))


def test_the_sample_catalogue_loads() -> None:
    catalogue = load_procedures(None)

    assert len(catalogue) >= 20
    procedures = list(catalogue.values())
    # Two-level local government since 1 July 2025: the sample has no district procedure.
    assert {procedure.level for procedure in procedures} == LEVELS - {"district"}
    times = [p.processing_time for p in procedures if p.processing_time is not None]
    assert len(times) == len(procedures) - 1  # one procedure sets no appointment date
    assert {time.unit for time in times} == set(TimeUnit)
    assert all(PROCEDURE_CODE_PATTERN.fullmatch(procedure.code) for procedure in procedures)
    assert all(0 <= time.amount <= 30 for time in times)
    assert [p.code for p in procedures if p.processing_time and p.processing_time.same_day_cutoff]
    assert any(p.fee_pauses_clock for p in procedures)
    assert any(not p.result_document for p in procedures)


def test_the_sample_has_the_design_example_and_vietnamese_names() -> None:
    procedure = load_procedures(None)["1.001757"]

    assert procedure.processing_time == ProcessingTime(5, TimeUnit.WORKING_DAYS)
    assert procedure.level == "province"
    assert "ô tô" in procedure.name


def test_a_catalogue_file_replaces_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "procedures.json"
    records = [
        {
            "code": "1.001612",
            "name": "Đăng ký thành lập hộ kinh doanh",
            "processing_time": 3,
            "unit": "working_days",
            "level": "district",
        }
    ]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")

    catalogue = load_procedures(path)

    assert list(catalogue) == ["1.001612"]
    assert catalogue["1.001612"].name == "Đăng ký thành lập hộ kinh doanh"


def test_a_bad_record_is_refused_naming_the_file_the_record_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "procedures.json"
    path.write_text(
        '[{"code": "1.001612", "name": "Đăng ký", "processing_time": 3, '
        '"unit": "hours", "level": "district"}]',
        encoding="utf-8",
    )

    with pytest.raises(DataFileError) as refused:
        load_procedures(path)

    assert str(refused.value).startswith(f"{path}: record 0: field 'unit'")


def test_a_catalogue_that_is_not_json_is_refused_with_the_place(tmp_path: Path) -> None:
    path = tmp_path / "procedures.json"
    path.write_text('[\n  {"code": "1.001612",}\n]', encoding="utf-8")

    with pytest.raises(DataFileError, match=r"procedures.json: not valid JSON at line 2, column"):
        load_procedures(path)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"

    with pytest.raises(DataFileError, match=r"nowhere.json: cannot be read"):
        load_procedures(path)
    with pytest.raises(DataFileError, match=r"nowhere.json: cannot be read"):
        load_calendar(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "procedures.json"
    path.write_bytes('[{"name": "Đăng ký"}]'.encode("utf-16"))

    with pytest.raises(DataFileError, match="not UTF-8 text"):
        load_procedures(path)


def test_no_calendar_file_means_no_overrides() -> None:
    calendar = load_calendar(None)

    assert calendar.working_day_length == timedelta(hours=8)
    assert calendar.is_working_day(date(2026, 9, 3))
    assert not calendar.is_working_day(date(2026, 12, 26))


def test_the_example_calendar_file_loads() -> None:
    """It declares 2026-09-03 and 2026-12-31 off and Saturday 2026-12-26 worked."""
    calendar = load_calendar(EXAMPLE_CALENDAR)

    assert not calendar.is_working_day(date(2026, 9, 3))
    assert not calendar.is_working_day(date(2026, 12, 31))
    assert calendar.is_working_day(date(2026, 12, 26))
    assert calendar.working_day_length == timedelta(hours=8)


def test_a_json_calendar_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_text(
        json.dumps({"days_off": ["2026-03-04"], "working_periods": [["08:00", "12:00"]]}),
        encoding="utf-8",
    )

    calendar = load_calendar(path)

    assert not calendar.is_working_day(date(2026, 3, 4))
    assert calendar.working_day_length == timedelta(hours=4)
    start = datetime(2026, 3, 3, 8, tzinfo=LOCAL_TZ)
    assert calendar.add_working_days(start, 1) == datetime(2026, 3, 3, 12, tzinfo=LOCAL_TZ)


def test_a_bad_override_is_refused_naming_the_file_the_key_and_the_value(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text('days_off = [2026-09-03, "3/9/2026"]\n', encoding="utf-8")

    with pytest.raises(DataFileError) as refused:
        load_calendar(path)

    assert str(refused.value) == f"{path}: days_off[1]: '3/9/2026' is not a date (YYYY-MM-DD)"


def test_a_calendar_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text("days_off = [2026-09-03\n", encoding="utf-8")

    with pytest.raises(DataFileError, match=r"calendar.toml: not valid TOML"):
        load_calendar(path)


def test_a_calendar_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text("days_off: []\n", encoding="utf-8")

    with pytest.raises(
        DataFileError, match=r"calendar.yaml: a calendar file must be .toml or .json"
    ):
        load_calendar(path)


def test_a_json_calendar_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "calendar.json"
    path.write_text('["2026-09-03"]', encoding="utf-8")

    with pytest.raises(DataFileError, match=r"calendar.json: the overrides must be a table"):
        load_calendar(path)


def test_data_file_errors_are_value_errors() -> None:
    assert issubclass(DataFileError, ValueError)
