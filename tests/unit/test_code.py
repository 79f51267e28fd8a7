from datetime import date
from uuid import uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.code import CODE_PATTERN, DossierCode
from domain.dossier import LEDGER_NAMESPACE, dossier_id
from domain.errors import DomainError, InvalidDossierCode


@pytest.mark.parametrize(
    ("text", "agency", "receipt_date", "serial"),
    [
        ("000.17.22.H56-210531-0001", "000.17.22.H56", date(2021, 5, 31), "0001"),
        ("000.00.16.G04-220324-0020", "000.00.16.G04", date(2022, 3, 24), "0020"),
        ("000.00.31.H56-260213-0001", "000.00.31.H56", date(2026, 2, 13), "0001"),
        ("AB.CD.EF.H01-240229-1234567", "AB.CD.EF.H01", date(2024, 2, 29), "1234567"),
    ],
)
def test_a_valid_code_parses_into_its_parts_and_prints_back(
    text: str, agency: str, receipt_date: date, serial: str
) -> None:
    code = DossierCode.parse(text)

    assert code == DossierCode(agency, receipt_date, serial)
    assert str(code) == text
    assert CODE_PATTERN.match(text)


@pytest.mark.parametrize(
    ("text", "part", "says"),
    [
        ("000.17.22.h56-210531-0001", "agency", "agency"),
        ("000.17.H56-210531-0001", "agency", "agency"),
        ("000.17.22.H560-210531-0001", "agency", "agency"),
        ("0.17.22.H56-210531-0001", "agency", "agency"),
        ("000.17.22.H56.01-210531-0001", "agency", "agency"),
        ("000.17.22.H56-230230-0001", "receipt_date", "not a real date"),
        ("000.17.22.H56-230229-0001", "receipt_date", "not a real date"),
        ("000.17.22.H56-211301-0001", "receipt_date", "not a real date"),
        ("000.17.22.H56-210500-0001", "receipt_date", "not a real date"),
        ("000.17.22.H56-21053-0001", "receipt_date", "yyMMdd"),
        ("000.17.22.H56-2105311-0001", "receipt_date", "yyMMdd"),
        ("000.17.22.H56-2105a1-0001", "receipt_date", "yyMMdd"),
        ("000.17.22.H56-210531-001", "serial", "4 to 7 digits"),
        ("000.17.22.H56-210531-12345678", "serial", "4 to 7 digits"),
        ("000.17.22.H56-210531-00A1", "serial", "4 to 7 digits"),
        (
            "000.17.22.H56-210531-\u0660\u0660\u0660\u0661",
            "serial",
            "4 to 7 digits",
        ),  # Arabic-Indic digits
        ("000.17.22.H56-210531-0001\n", "serial", "4 to 7 digits"),
        ("000.17.22.H56-210531", "format", "{agency}-{yyMMdd}-{serial}"),
        ("000.17.22.H56-210531-0001-2", "format", "{agency}-{yyMMdd}-{serial}"),
        ("", "format", "{agency}-{yyMMdd}-{serial}"),
    ],
)
def test_a_malformed_code_is_refused_naming_the_wrong_part(text: str, part: str, says: str) -> None:
    with pytest.raises(InvalidDossierCode) as refused:
        DossierCode.parse(text)

    assert refused.value.part == part
    assert says in str(refused.value)
    assert isinstance(refused.value, DomainError)
    assert refused.value.rule == "invalid_dossier_code"
    assert refused.value.field == "dossier_code"


def test_a_code_cannot_be_built_with_a_malformed_part() -> None:
    with pytest.raises(InvalidDossierCode) as refused:
        DossierCode("000.17.22", date(2021, 5, 31), "0001")
    assert refused.value.part == "agency"

    with pytest.raises(InvalidDossierCode) as refused:
        DossierCode("000.17.22.H56", date(1999, 5, 31), "0001")
    assert refused.value.part == "receipt_date"


_SEGMENT = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=3)


@given(
    segments=st.lists(_SEGMENT, min_size=4, max_size=4),
    receipt_date=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    serial=st.from_regex(r"[0-9]{4,7}", fullmatch=True),
)
def test_printing_then_parsing_a_code_gives_it_back(
    segments: list[str], receipt_date: date, serial: str
) -> None:
    code = DossierCode(".".join(segments), receipt_date, serial)
    parsed = DossierCode.parse(str(code))

    assert parsed == code
    assert str(parsed) == str(code)  # the text kept from parsing is the canonical one
    assert CODE_PATTERN.match(str(code))
    assert dossier_id(parsed) == uuid5(LEDGER_NAMESPACE, str(code))  # ids are fixed forever
