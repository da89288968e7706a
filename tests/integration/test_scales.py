"""Rating scales scored as published (expected bands derived from core/data/rating_scales.json, not typed in),
answers validated item by item, and the PHQ-9 item-9 safety flag: raised once, acknowledged once, audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

import core
from core.db import unit_of_work
from core.errors import Conflict, NotFound, ValidationError
from core.models import AuditEvent, SafetyFlag, ScaleResult
from core.services import scales
from tests.factories import make_doctor_with_patient

SCALES = {s["id"]: s for s in json.loads(
    (Path(core.__file__).parent / "data" / "rating_scales.json").read_text(encoding="utf-8"))["scales"]}


def _max_answer(scale: dict) -> int:
    return max(int(v) for _, v in scale["options"])


def _answers_for(scale: dict, total: int, keep_zero: int | None = None) -> list[int]:
    """Answers summing to `total`, filled from the first item, using only the published option values;
    item `keep_zero` (1-based) stays 0 while the total allows."""
    values = sorted({int(v) for _, v in scale["options"]}, reverse=True)
    order = [i for i in range(len(scale["items"])) if i + 1 != keep_zero] + ([keep_zero - 1] if keep_zero else [])
    answers = [0] * len(scale["items"])
    left = total
    for i in order:
        answers[i] = next(v for v in values if v <= left)
        left -= answers[i]
    assert left == 0 and sum(answers) == total
    return answers


def _boundaries() -> list[tuple[str, int, str, bool]]:
    """(scale, total, expected band, expected screen-positive) for both ends of every published band."""
    cases = []
    for sid, scale in SCALES.items():
        bands = [(int(lo), int(hi), label) for lo, hi, label in scale["bands"]]
        # The bands cover 0..maximum with no gap or overlap, so the boundaries below are every boundary.
        assert bands[0][0] == 0 and bands[-1][1] == _max_answer(scale) * len(scale["items"]), sid
        assert all(bands[i][1] + 1 == bands[i + 1][0] for i in range(len(bands) - 1)), sid
        for lo, hi, label in bands:
            for total in sorted({lo, hi}):
                cases.append((sid, total, label, total >= int(scale["screen_positive_at"])))
    return cases


BOUNDARIES = _boundaries()


def _count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).scalar_one()


def _audit(session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars())


@pytest.fixture
def care(database):
    with unit_of_work() as session:
        doctor, desk, patient = make_doctor_with_patient(session)
    return doctor, desk, patient


def test_the_published_data_is_what_the_service_uses():
    assert set(SCALES) == {"PHQ-9", "GAD-7", "PHQ-2"} == set(scales.scales())
    for sid, scale in SCALES.items():
        loaded = scales.scales()[sid]
        assert loaded.items == tuple(scale["items"]) and len(loaded.items) == {"PHQ-9": 9, "GAD-7": 7, "PHQ-2": 2}[sid]
        assert [list(b) for b in loaded.bands] == [[int(b[0]), int(b[1]), b[2]] for b in scale["bands"]]
    assert "Spitzer" in scales.attribution() and scales.attribution().startswith("Item wording")


def test_every_total_scores_to_its_published_band():
    # Pure scoring, every possible total (not only the boundaries).
    for sid, scale in SCALES.items():
        for total in range(_max_answer(scale) * len(scale["items"]) + 1):
            expected = next(label for lo, hi, label in scale["bands"] if int(lo) <= total <= int(hi))
            found, values, got = scales.score(sid, _answers_for(scale, total))
            assert (got, found.band_of(got)) == (total, expected), (sid, total)


def test_every_band_boundary_is_stored_with_its_band(care):
    doctor, _, patient = care
    with unit_of_work() as session:
        results = [(sid, total, label, positive,
                    scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id=sid,
                                            answers=_answers_for(SCALES[sid], total, keep_zero=9 if sid == "PHQ-9" else None)))
                   for sid, total, label, positive in BOUNDARIES]
    assert len(results) == 10 + 8 + 4
    for sid, total, label, positive, r in results:
        assert (r.scale_id, r.total, r.band, r.screen_positive) == (sid, total, label, positive)
    with unit_of_work() as session:
        history = scales.scale_history(session=session, actor=doctor, patient_id=patient.id)
        stored = {(r.scale_id, r.total, r.band) for r in session.exec(select(ScaleResult)).scalars()}
        assert len(_audit(session, "scale.administer")) == len(BOUNDARIES)
    assert [(h.scale_id, h.total, h.band) for h in history] == [(sid, t, label) for sid, t, label, _ in BOUNDARIES]
    assert stored == {(sid, t, label) for sid, t, label, _ in BOUNDARIES}
    with unit_of_work() as session:
        only_gad = scales.scale_history(session=session, actor=doctor, patient_id=patient.id, scale_id="GAD-7")
    assert {h.scale_id for h in only_gad} == {"GAD-7"} and len(only_gad) == 8


BAD_ANSWERS = [
    ("PHQ-9", [0] * 8, "answers"),
    ("PHQ-9", [0] * 10, "answers"),
    ("PHQ-9", [], "answers"),
    ("PHQ-9", None, "answers"),
    ("PHQ-9", "000000000", "answers"),
    ("PHQ-9", [0, 0, 4, 0, 0, 0, 0, 0, 0], "item_3"),
    ("PHQ-9", [0, 0, 0, 0, 0, 0, 0, 0, -1], "item_9"),
    ("PHQ-9", [0, "2", 0, 0, 0, 0, 0, 0, 0], "item_2"),
    ("PHQ-9", [1.0, 0, 0, 0, 0, 0, 0, 0, 0], "item_1"),
    ("GAD-7", [0, 0, 0, 0, 0, 0, True], "item_7"),
    ("GAD-7", [0, 0, 0, 0, None, 0, 0], "item_5"),
    ("PHQ-2", [3, 3, 3], "answers"),
    ("PHQ-2", [0, 9], "item_2"),
    ("PHQ-10", [0] * 10, "scale_id"),
    (None, [0] * 9, "scale_id"),
]


def test_wrong_answers_name_the_item_and_write_nothing(care):
    doctor, _, patient = care
    with unit_of_work() as session:
        before = (_count(session, ScaleResult), _count(session, SafetyFlag), len(_audit(session, "scale.administer")))
    wrong = []
    for sid, answers, field in BAD_ANSWERS:
        with unit_of_work() as session, pytest.raises(ValidationError) as err:
            scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id=sid, answers=answers)
        if list(err.value.fields) != [field]:
            wrong.append((sid, answers, err.value.fields))
    for sid, functional in (("PHQ-9", 4), ("PHQ-9", -1), ("PHQ-9", "1"), ("GAD-7", 0)):
        with unit_of_work() as session, pytest.raises(ValidationError) as err:
            scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id=sid,
                                    answers=[0] * len(SCALES[sid]["items"]), functional=functional)
        if list(err.value.fields) != ["functional"]:
            wrong.append((sid, functional, err.value.fields))
    assert wrong == []
    with unit_of_work() as session:
        after = (_count(session, ScaleResult), _count(session, SafetyFlag), len(_audit(session, "scale.administer")))
    assert after == before == (0, 0, 0)
    with unit_of_work() as session:
        ok = scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id="PHQ-9",
                                     answers=[3] * 8 + [0], functional=3)
    assert (ok.total, ok.band) == (24, "Severe")


# --- the PHQ-9 item-9 safety flag -----------------------------------------------------------------------

def test_item_9_above_zero_raises_exactly_one_flag_per_administration(care):
    doctor, _, patient = care
    item9 = SCALES["PHQ-9"]["safety_item"]["index"]
    assert item9 == 9
    with unit_of_work() as session:
        # Everything high but item 9 at 0: no flag. Other scales never raise one.
        scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id="PHQ-9",
                                answers=[3] * 8 + [0])
        scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id="GAD-7", answers=[3] * 7)
        scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id="PHQ-2", answers=[3, 3])
        assert scales.safety_flags(session=session, actor=doctor, patient_id=patient.id) == []
        # A low total with item 9 at 1 does raise one.
        low = scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id="PHQ-9",
                                      answers=[0] * 8 + [1])
    assert (low.total, low.band, low.screen_positive) == (1, "Minimal", False)
    with unit_of_work() as session:
        flags = scales.safety_flags(session=session, actor=doctor, patient_id=patient.id, open_only=True)
        rows = session.exec(select(SafetyFlag)).scalars().all()
        raised = _audit(session, "safety_flag.raise")
    assert len(flags) == 1 and len(rows) == 1 and rows[0].source_id == low.id and rows[0].kind == "phq9_item9"
    assert flags[0].acknowledged_at is None and "item 9" in flags[0].description
    assert [(e.actor_username, e.entity_id, e.details["flag"]) for e in raised] == [
        (doctor.username, str(patient.id), str(flags[0].id))]
    for value in (2, 3):
        with unit_of_work() as session:
            scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id="PHQ-9",
                                    answers=[0] * 8 + [value])
    with unit_of_work() as session:
        assert len(scales.safety_flags(session=session, actor=doctor, patient_id=patient.id, open_only=True)) == 3


def test_acknowledging_a_flag_needs_a_note_is_audited_and_happens_once(care):
    doctor, _, patient = care
    with unit_of_work() as session:
        scales.administer_scale(session=session, actor=doctor, patient_id=patient.id, scale_id="PHQ-9", answers=[1] * 9)
        (flag,) = scales.safety_flags(session=session, actor=doctor, patient_id=patient.id, open_only=True)
    for note in (None, "", "short", "         x", "123456789", "  12345678  "):
        with unit_of_work() as session, pytest.raises(ValidationError) as err:
            scales.acknowledge_flag(session=session, actor=doctor, flag_id=flag.id, note=note)
        assert list(err.value.fields) == ["note"], note
    with unit_of_work() as session:
        assert _audit(session, "safety_flag.acknowledge") == []
        assert len(scales.safety_flags(session=session, actor=doctor, patient_id=patient.id, open_only=True)) == 1
        scales.acknowledge_flag(session=session, actor=doctor, flag_id=flag.id, note="1234567890")
    with unit_of_work() as session:
        assert scales.safety_flags(session=session, actor=doctor, patient_id=patient.id, open_only=True) == []
        (done,) = scales.safety_flags(session=session, actor=doctor, patient_id=patient.id)
        acks = _audit(session, "safety_flag.acknowledge")
    assert (done.id, done.acknowledged_by, done.acknowledgement) == (flag.id, doctor.full_name, "1234567890")
    assert done.acknowledged_at is not None
    assert [(e.actor_username, e.entity_id, e.outcome, e.details) for e in acks] == [
        (doctor.username, str(patient.id), "success", {"flag": str(flag.id)})]
    with unit_of_work() as session, pytest.raises(Conflict):
        scales.acknowledge_flag(session=session, actor=doctor, flag_id=flag.id, note="Assessed again, still fine")
    with unit_of_work() as session:
        assert len(_audit(session, "safety_flag.acknowledge")) == 1
        (still,) = scales.safety_flags(session=session, actor=doctor, patient_id=patient.id)
        assert still.acknowledgement == "1234567890"
        with pytest.raises(NotFound):
            scales.acknowledge_flag(session=session, actor=doctor, flag_id=patient.id, note="not a flag at all")
