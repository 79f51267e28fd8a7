"""The procedure catalogue: records of the wire format become procedures, or are refused."""

import re
from collections.abc import Mapping
from typing import Any

import pytest

from domain.procedures import (
    CatalogueError,
    Procedure,
    ProcedureCatalogue,
    ProcessingTime,
    TimeUnit,
)


def record(**changes: Any) -> dict[str, Any]:
    base = {
        "code": "1.001757",
        "name": "Cấp Giấy phép kinh doanh vận tải bằng xe ô tô",
        "processing_time": 5,
        "unit": "working_days",
        "level": "province",
    }
    return base | changes


def test_records_become_procedures_by_code() -> None:
    catalogue = ProcedureCatalogue.from_records(
        [
            record(),
            record(
                code="2.000488",
                name="Cấp Phiếu lý lịch tư pháp",
                processing_time=10,
                unit="calendar_days",
            ),
        ]
    )

    assert len(catalogue) == 2
    assert "1.001757" in catalogue
    assert list(catalogue) == ["1.001757", "2.000488"]
    assert catalogue.get("1.001757") == Procedure(
        "1.001757",
        "Cấp Giấy phép kinh doanh vận tải bằng xe ô tô",
        ProcessingTime(5, TimeUnit.WORKING_DAYS),
        "province",
    )
    assert catalogue["2.000488"].processing_time == ProcessingTime(10, TimeUnit.CALENDAR_DAYS)


def test_an_unknown_code_is_not_in_the_catalogue() -> None:
    catalogue = ProcedureCatalogue.from_records([record()])

    assert catalogue.get("9.999999") is None
    assert "9.999999" not in catalogue


def test_the_catalogue_is_an_immutable_mapping() -> None:
    catalogue = ProcedureCatalogue.from_records([record()])

    assert isinstance(catalogue, Mapping)
    with pytest.raises(TypeError):
        catalogue["1.001757"] = catalogue["1.001757"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        catalogue["1.001757"].processing_time = ProcessingTime(1, TimeUnit.WORKING_DAYS)  # type: ignore[misc]


def test_an_empty_catalogue_is_allowed() -> None:
    assert len(ProcedureCatalogue.from_records([])) == 0


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"code": "1001757"}, "field 'code' must look like '1.001757'"),
        ({"code": 1.001757}, "field 'code' must look like '1.001757'"),
        ({"name": "  "}, "field 'name' must be a non-empty string"),
        ({"processing_time": 0}, "field 'processing_time' must be from 1 to 365"),
        ({"processing_time": 400}, "field 'processing_time' must be from 1 to 365"),
        ({"processing_time": "5"}, "field 'processing_time' must be a whole number"),
        ({"processing_time": 5.5}, "field 'processing_time' must be a whole number"),
        ({"processing_time": True}, "field 'processing_time' must be a whole number"),
        ({"unit": "days"}, "field 'unit' must be 'working_days' or 'calendar_days'"),
        ({"unit": ["working_days"]}, "field 'unit' must be"),
        ({"level": "ward"}, "field 'level' must be one of 'central', 'commune', 'district'"),
        ({"level": None}, "field 'level' must be one of"),
        ({"fee": 50_000}, "field 'fee' is not a field of a procedure record"),
    ],
)
def test_a_bad_record_is_refused_naming_its_index_the_field_and_the_rule(
    bad: dict[str, Any], says: str
) -> None:
    records = [record(code="1.000001"), record(**bad)]

    with pytest.raises(CatalogueError, match=f"^record 1: {re.escape(says)}"):
        ProcedureCatalogue.from_records(records)


@pytest.mark.parametrize("field", ["code", "name", "processing_time", "unit", "level"])
def test_a_record_missing_a_field_is_refused_naming_the_field(field: str) -> None:
    incomplete = record()
    del incomplete[field]

    with pytest.raises(CatalogueError, match=f"record 0: field '{field}' is missing"):
        ProcedureCatalogue.from_records([incomplete])


def test_a_record_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(CatalogueError, match="record 1: must be an object"):
        ProcedureCatalogue.from_records([record(), ["1.001757", 5]])  # type: ignore[list-item]


def test_records_must_be_a_list() -> None:
    with pytest.raises(CatalogueError, match="must be a list"):
        ProcedureCatalogue.from_records({"code": "1.001757"})  # type: ignore[arg-type]


def test_a_code_used_twice_is_refused_naming_both_records() -> None:
    says = re.escape("record 2: code '1.001757' is already used by record 0")
    with pytest.raises(CatalogueError, match=says):
        ProcedureCatalogue.from_records([record(), record(code="1.000001"), record()])


def test_catalogue_errors_are_value_errors() -> None:
    assert issubclass(CatalogueError, ValueError)
