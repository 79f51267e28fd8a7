"""Finding 6: apology letters (DeadlineExtended) beyond the national rule are recorded and flagged.

The rule (Decree 61/2018/NĐ-CP on the one-stop mechanism, art. 19, as amended by Decree
107/2021/NĐ-CP; the apology form of Circular 01/2018/TT-VPCP): an agency that will miss the due
date sends the applicant an apology letter with a new appointment date before the due date, and
moves the appointment once. The ledger records what happened, so a second letter or a late one
is stored like any other, counted in `extensions`, and a late one sets `extended_after_due`; the
dossier still counts late against its original due date.

A five-working-day dossier received Mon 2/3/2026 09:00 is due Mon 9/3 09:00.
"""

from __future__ import annotations

from domain.commands import DeadlineExtendedData, Outcome, ResolvedData
from domain.timeliness import Timeliness
from tests.unit.stories import CALENDAR, FIVE_WORKING_DAYS, at, received


def letter(new_due_day: int) -> DeadlineExtendedData:
    return DeadlineExtendedData(at(2026, 3, new_due_day, 17), "thư xin lỗi: cần xác minh thêm")


def test_one_letter_before_the_due_date_is_within_the_rule() -> None:
    """Letter on Thu 5/3, before the due date 9/3: one extension, not after the due date; the
    appointment moves to 13/3, the original due date stays 9/3."""
    story = received(FIVE_WORKING_DAYS, at(2026, 3, 2, 9))
    dossier = story.then(letter(13), at(2026, 3, 5, 10))
    assert (dossier.extensions, dossier.extended_after_due) == (1, False)
    assert dossier.due_at == at(2026, 3, 13, 17)
    assert dossier.original_due_at == at(2026, 3, 9, 9)


def test_a_second_letter_is_recorded_and_counted() -> None:
    """A second letter on Thu 12/3 (before the new appointment, 13/3) moving it to 20/3: the
    national rule allows one; the ledger records it and `extensions` says 2."""
    story = received(FIVE_WORKING_DAYS, at(2026, 3, 2, 9))
    story.then(letter(13), at(2026, 3, 5, 10))
    dossier = story.then(letter(20), at(2026, 3, 12, 10))
    assert (dossier.extensions, dossier.extended_after_due) == (2, False)
    assert dossier.due_at == at(2026, 3, 20, 17)
    assert dossier.version == 3  # both letters are events of the history


def test_a_letter_after_the_due_date_is_flagged_and_the_dossier_still_counts_late() -> None:
    """Letter on Tue 10/3 10:00, after the due date Mon 9/3 09:00: flagged. Resolved Thu 12/3,
    before the new appointment (16/3) but after the original due date: late."""
    story = received(FIVE_WORKING_DAYS, at(2026, 3, 2, 9))
    dossier = story.then(letter(16), at(2026, 3, 10, 10))
    assert (dossier.extensions, dossier.extended_after_due) == (1, True)
    dossier = story.then(ResolvedData(Outcome.APPROVED, False), at(2026, 3, 12, 10))
    assert dossier.timeliness(at(2026, 3, 12, 10), CALENDAR) is Timeliness.LATE


def test_a_letter_on_the_due_day_before_the_due_hour_is_not_after_the_due_date() -> None:
    """Letter Mon 9/3 08:00, the due instant being 09:00 that day: before it."""
    story = received(FIVE_WORKING_DAYS, at(2026, 3, 2, 9))
    dossier = story.then(letter(13), at(2026, 3, 9, 8))
    assert dossier.extended_after_due is False
