"""Agency codes and the hierarchy: a key's agency covers itself and the agencies below it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.agency import AgencyCode, InvalidAgencyCode


@pytest.mark.parametrize(
    ("key", "agency", "covered"),
    [
        ("000.00.00.H56", "000.00.00.H56", True),  # the province itself
        ("000.00.00.H56", "000.00.31.H56", True),  # a department of it
        ("000.00.00.H56", "000.17.22.H56", True),  # a ward of a district of it
        ("000.00.00.H56", "000.00.00.H01", False),  # another province
        ("000.00.00.H56", "000.00.16.G04", False),  # a ministry
        ("000.00.31.H56", "000.00.31.H56", True),
        ("000.00.31.H56", "000.17.31.H56", True),  # *.*.31.H56
        ("000.00.31.H56", "AB.CD.31.H56", True),
        ("000.00.31.H56", "000.00.13.H56", False),  # a sibling department
        ("000.00.31.H56", "000.00.00.H56", False),  # the province above it
        ("000.00.31.H56", "000.00.31.H01", False),  # the same unit number elsewhere
        ("000.17.22.H56", "000.17.22.H56", True),
        ("000.17.22.H56", "001.17.22.H56", True),  # a unit below it
        ("000.17.22.H56", "000.18.22.H56", False),
        ("AB.CD.EF.H01", "AB.CD.EF.H01", True),
        ("AB.CD.EF.H01", "AC.CD.EF.H01", False),  # no zeros: itself only
        ("000.17.22.H56", "000.17.22.H560", None),  # not an agency code at all
        ("000.00.16.G04", "000.00.16.G04", True),
    ],
)
def test_worked_examples_of_coverage(key: str, agency: str, covered: bool | None) -> None:
    scope = AgencyCode.parse_scope(key)
    if covered is None:
        with pytest.raises(InvalidAgencyCode):
            AgencyCode.parse(agency)
        return
    assert scope.covers(AgencyCode.parse(agency)) is covered


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("000", "four dot-separated segments"),
        ("000.00.31", "four dot-separated segments"),
        ("000.00.31.H56.01", "four dot-separated segments"),
        ("000.00.31.h56", "four dot-separated segments"),
        ("0.00.31.H56", "four dot-separated segments"),
        ("000.00.31.H5", "top level 'H5'"),
        ("000.00.31.560", "top level '560'"),
        ("000.00.00.000", "top level '000'"),
        ("000.17.00.H56", "below a level of zeros"),
    ],
)
def test_a_key_scope_that_is_not_an_agency_code_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(InvalidAgencyCode, match=re.escape(says)):
        AgencyCode.parse_scope(text)


def test_a_code_prints_back_as_written() -> None:
    assert str(AgencyCode.parse("000.17.22.H56")) == "000.17.22.H56"
    assert AgencyCode.parse("000.17.22.H56").levels == ("H56", "22", "17", "000")


# Few values per level, so that codes often share levels and the interesting cases come up.
tops = st.sampled_from(["H56", "H01", "G04"])
levels = st.sampled_from(["00", "000", "31", "17", "AB"])
agencies = st.builds(
    lambda t, a, b, c: AgencyCode.parse(f"{c}.{b}.{a}.{t}"), tops, levels, levels, levels
)


@st.composite
def scopes(draw: st.DrawFn) -> AgencyCode:
    """A key's scope: some levels under the top given, then zeros."""
    given_levels = draw(st.lists(st.sampled_from(["31", "17", "AB"]), max_size=3))
    zeros = [draw(st.sampled_from(["00", "000"])) for _ in range(3 - len(given_levels))]
    top, below = draw(tops), [*given_levels, *zeros]
    return AgencyCode.parse_scope(".".join([*reversed(below), top]))


def as_pattern(scope: AgencyCode) -> re.Pattern[str]:
    """An independent reading of the rule: the scope's zero levels are wildcards."""
    parts = [r"[0-9A-Z]{2,3}" if set(s) == {"0"} else re.escape(s) for s in scope.levels]
    return re.compile(r"\.".join(reversed(parts)))


@given(scopes(), agencies)
def test_a_scope_covers_exactly_the_codes_its_pattern_matches(
    scope: AgencyCode, agency: AgencyCode
) -> None:
    assert scope.covers(agency) is bool(as_pattern(scope).fullmatch(str(agency)))


@given(agencies, agencies)
def test_no_code_covers_another_top_level(key: AgencyCode, agency: AgencyCode) -> None:
    if key.levels[0] != agency.levels[0]:
        assert not key.covers(agency)


@given(agencies)
def test_every_code_covers_itself_and_its_top_level_covers_it(agency: AgencyCode) -> None:
    assert agency.covers(agency)
    assert AgencyCode.parse(f"000.00.00.{agency.levels[0]}").covers(agency)


@given(scopes(), scopes(), agencies)
def test_coverage_is_transitive(a: AgencyCode, b: AgencyCode, c: AgencyCode) -> None:
    if a.covers(b) and b.covers(c):
        assert a.covers(c)
