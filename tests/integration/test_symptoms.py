"""Symptom search (ICD-11 catalogue + a doctor's own custom symptoms, ranked code > title prefix > word
prefix > substring > typo-tolerant), custom symptoms, and symptoms on a patient: versioned edits, soft
removal with a reason, all audited; bad input names the field and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import unit_of_work
from core.errors import Conflict, PermissionDenied, ValidationError
from core.models import AuditEvent, CustomSymptom, PatientSymptom
from core.security.rbac import Role
from core.services import symptoms
from core.validation import normalise_name
from tests.factories import make_actor, make_doctor_with_patient

TIERS = ["code", "prefix", "word", "substring", "fuzzy"]


def _audit(session, prefix: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action.startswith(prefix))
                             .order_by(AuditEvent.seq)).scalars())


def _search(actor, query: str, limit: int = 20) -> list[symptoms.SymptomHit]:
    with unit_of_work() as session:
        return symptoms.search_symptoms(session=session, actor=actor, query=query, limit=limit)


@pytest.fixture
def people(database):
    with unit_of_work() as session:
        doctor, desk, patient = make_doctor_with_patient(session)
        other_doctor = make_actor(session, role=Role.DOCTOR)
    return doctor, desk, patient, other_doctor


# --- search -------------------------------------------------------------------------------------------

def test_exact_code_comes_first_and_kind_is_shown(people):
    doctor, desk, _, _ = people
    for actor in (doctor, desk):
        hits = _search(actor, "MB24.5")
        assert (hits[0].code, hits[0].title, hits[0].kind, hits[0].match, hits[0].ref, hits[0].source) == \
            ("MB24.5", "Depressed mood", "symptom", "code", "icd:MB24.5", "ICD-11")
        lower = _search(actor, " mb24.5 ")
        assert lower[0].code == "MB24.5"
    (gad,) = [h for h in _search(doctor, "generalised anxiety") if h.code == "6B00"]
    assert gad.kind == "disorder"


def test_exact_code_comes_before_its_child_codes(people):
    doctor, _, _, _ = people
    for code in ("MB24.6", "MB24"):
        hits = _search(doctor, code)
        assert hits[0].code == code, [h.code for h in hits[:6]]


def test_ranking_tiers_in_order_with_custom_symptoms(people):
    doctor, _, _, _ = people
    # One custom symptom per tier for a word in no catalogue title, created in reverse order.
    names = {"fuzzy": "Glimerfrost", "substring": "Hyperglimmerfrosting", "word": "Nocturnal glimmerfrost",
             "prefix": "Glimmerfrost episodes"}
    with unit_of_work() as session:
        for name in names.values():
            symptoms.create_custom_symptom(session=session, actor=doctor, name=name, kind="symptom")
        symptoms.create_custom_symptom(session=session, actor=doctor, name="Glimmerfrost", kind="disorder")
    hits = _search(doctor, "GLIMMERfrost")
    assert [(h.title, h.match) for h in hits] == [
        ("Glimmerfrost", "prefix"), ("Glimmerfrost episodes", "prefix"), ("Nocturnal glimmerfrost", "word"),
        ("Hyperglimmerfrosting", "substring"), ("Glimerfrost", "fuzzy")]
    assert hits[0].kind == "disorder" and hits[1].kind == "symptom" and all(h.source == "custom" for h in hits)
    assert all(h.ref.startswith("custom:") and h.code is None for h in hits)
    # A longer query that is a prefix of a multi-word title: still the prefix tier.
    longer = _search(doctor, "glimmerfrost epi")
    assert (longer[0].title, longer[0].match) == ("Glimmerfrost episodes", "prefix")
    assert all(h.match == "fuzzy" for h in longer[1:])


def test_catalogue_hits_come_in_tier_order(people):
    doctor, _, _, _ = people
    for query in ("anx", "mood", "affect", "depress", "insom", "disorder", "pho", "bipolar"):
        _check_tiers(_search(doctor, query, limit=100), query)


def _check_tiers(hits: list[symptoms.SymptomHit], query: str) -> None:
    tiers = [TIERS.index(h.match) for h in hits]
    assert hits and tiers == sorted(tiers), [(h.title, h.match) for h in hits]
    q = normalise_name(query)
    for h in hits:  # each hit's label is true of its title
        key = normalise_name(h.title)
        if h.match == "prefix":
            assert key.startswith(q), h
        elif h.match == "word":
            assert not key.startswith(q) and any(w.startswith(q) for w in key.split()), h
        elif h.match == "substring":
            assert q in key and not any(w.startswith(q) for w in key.split()), h
        else:
            assert h.match == "fuzzy" and q not in key, h


def test_typo_tolerance(people):
    doctor, desk, _, _ = people
    for actor in (doctor, desk):
        for typo, code in (("anxeity", "MB24.3"), ("depresed mood", "MB24.5"), ("agorafobia", "6B02")):
            hits = _search(actor, typo)
            assert hits and hits[0].code == code, (typo, [(h.code, h.title) for h in hits[:3]])
            assert hits[0].match == "fuzzy"
    assert _search(doctor, "qqqzzzxxx") == []


def test_search_refuses_short_or_silly_queries(people):
    doctor, _, _, _ = people
    with unit_of_work() as session:
        for query, field in (("a", "query"), ("  ", "query"), (None, "query"), ("x" * 101, "query")):
            with pytest.raises(ValidationError) as err:
                symptoms.search_symptoms(session=session, actor=doctor, query=query)
            assert field in err.value.fields
        with pytest.raises(ValidationError) as err:
            symptoms.search_symptoms(session=session, actor=doctor, query="mood", limit=0)
        assert "limit" in err.value.fields
        manager = make_actor(session, role=Role.MANAGER)
        with pytest.raises(PermissionDenied):
            symptoms.search_symptoms(session=session, actor=manager, query="mood")


# --- custom symptoms ----------------------------------------------------------------------------------

def test_custom_symptoms_are_unique_per_doctor_case_insensitively(people):
    doctor, desk, _, other = people
    with unit_of_work() as session:
        mine = symptoms.create_custom_symptom(session=session, actor=doctor, name="Night terrors at dawn")
    for clash in ("night terrors at dawn", "  NIGHT   Terrors at DAWN ", "Night-terrors, at dawn!"):
        with unit_of_work() as session, pytest.raises(ValidationError) as err:
            symptoms.create_custom_symptom(session=session, actor=doctor, name=clash)
        assert "already" in err.value.fields["name"]
    with unit_of_work() as session:
        theirs = symptoms.create_custom_symptom(session=session, actor=other, name="NIGHT TERRORS AT DAWN")
        assert session.exec(select(func.count()).select_from(CustomSymptom)).scalar_one() == 2
        assert [c.name for c in symptoms.list_custom_symptoms(session=session, actor=doctor)] == ["Night terrors at dawn"]
        assert [e.actor_username for e in _audit(session, "symptom.custom_create")] == [doctor.username, other.username]
    assert mine.id != theirs.id
    with unit_of_work() as session:
        for bad, field in (({"name": "x"}, "name"), ({"name": "  "}, "name"), ({"name": "Okay name", "kind": "sign"}, "kind"),
                           ({"name": "two\nlines"}, "name"), ({"name": "y" * 201}, "name")):
            with pytest.raises(ValidationError) as err:
                symptoms.create_custom_symptom(session=session, actor=doctor, **bad)
            assert field in err.value.fields, bad
        with pytest.raises(PermissionDenied):
            symptoms.create_custom_symptom(session=session, actor=desk, name="Reception wording")


def test_a_doctor_never_sees_another_doctors_custom_symptoms(people):
    doctor, desk, patient, other = people
    with unit_of_work() as session:
        secret = symptoms.create_custom_symptom(session=session, actor=other, name="Zorblatt compulsion")
        symptoms.create_custom_symptom(session=session, actor=doctor, name="Zorblatt rumination")
    for query in ("zorblatt", "Zorblatt compulsion", "compulsion", "zorblat compulsoin"):
        assert all(h.ref != f"custom:{secret.id}" for h in _search(doctor, query)), query
        assert all(h.source != "custom" for h in _search(desk, query)), query
    assert [h.title for h in _search(doctor, "zorblatt")] == ["Zorblatt rumination"]
    assert [h.title for h in _search(other, "zorblatt")] == ["Zorblatt compulsion"]
    # Nor can the doctor attach it by guessing its reference.
    with unit_of_work() as session, pytest.raises(ValidationError) as err:
        symptoms.attach_symptom(session=session, actor=doctor, patient_id=patient.id, data={"ref": f"custom:{secret.id}"})
    assert "ref" in err.value.fields


# --- symptoms on a patient ---------------------------------------------------------------------------

def _symptom_state(session) -> tuple:
    return (session.exec(select(func.count()).select_from(PatientSymptom)).scalar_one(),
            session.exec(select(func.count()).select_from(PatientSymptom)
                         .where(PatientSymptom.superseded_at.is_not(None))).scalar_one(),
            session.exec(select(func.count()).select_from(PatientSymptom)
                         .where(PatientSymptom.deleted_at.is_not(None))).scalar_one(),
            len(_audit(session, "symptom.add")), len(_audit(session, "symptom.edit")), len(_audit(session, "symptom.remove")))


def test_attach_edit_remove_with_history_all_audited(people):
    doctor, _, patient, _ = people
    with unit_of_work() as session:
        custom = symptoms.create_custom_symptom(session=session, actor=doctor, name="Exam dread")
        added = symptoms.attach_symptom(session=session, actor=doctor, patient_id=patient.id, data={
            "ref": "icd:MB24.5", "severity": "moderate", "frequency": "daily", "duration_value": 3,
            "duration_unit": "weeks", "onset": "after job loss", "triggers": ["work", "Work", " money "],
            "notes": "worse in the mornings"})
        other = symptoms.attach_symptom(session=session, actor=doctor, patient_id=patient.id,
                                        data={"ref": f"custom:{custom.id}", "severity": "mild"})
    assert (added.version, added.code, added.title, added.source) == (1, "MB24.5", "Depressed mood", "clinical")
    assert added.triggers == ["work", "money"] and added.notes == "worse in the mornings"
    assert (other.title, other.ref, other.code) == ("Exam dread", f"custom:{custom.id}", None)

    with unit_of_work() as session:
        edited = symptoms.edit_symptom(session=session, actor=doctor, lineage_id=added.lineage_id, data={
            "ref": "icd:MB24.5", "severity": "severe", "frequency": "constant", "notes": "now constant"})
    assert (edited.lineage_id, edited.version, edited.severity, edited.notes) == (added.lineage_id, 2, "severe", "now constant")
    assert edited.id != added.id and edited.duration_value is None and edited.triggers == []

    with unit_of_work() as session:
        current = symptoms.list_patient_symptoms(session=session, actor=doctor, patient_id=patient.id)
        history = symptoms.list_patient_symptoms(session=session, actor=doctor, patient_id=patient.id, history=True)
    assert sorted((s.title, s.version) for s in current) == [("Depressed mood", 2), ("Exam dread", 1)]
    versions = {(s.lineage_id, s.version): s for s in history}
    assert len(history) == 3
    assert versions[(added.lineage_id, 1)].superseded_at is not None and versions[(added.lineage_id, 1)].severity == "moderate"
    assert versions[(added.lineage_id, 1)].notes == "worse in the mornings"
    assert versions[(added.lineage_id, 2)].superseded_at is None

    with unit_of_work() as session:
        for reason in (None, "   ", "two\nlines"):
            with pytest.raises(ValidationError) as err:
                symptoms.remove_symptom(session=session, actor=doctor, lineage_id=added.lineage_id, reason=reason)
            assert "reason" in err.value.fields
    with unit_of_work() as session:
        symptoms.remove_symptom(session=session, actor=doctor, lineage_id=added.lineage_id, reason="entered in error")
    with unit_of_work() as session:
        current = symptoms.list_patient_symptoms(session=session, actor=doctor, patient_id=patient.id)
        history = symptoms.list_patient_symptoms(session=session, actor=doctor, patient_id=patient.id, history=True)
        row = session.exec(select(PatientSymptom).where(PatientSymptom.lineage_id == added.lineage_id,
                                                        PatientSymptom.version == 2)).scalars().one()
        assert (row.delete_reason, row.deleted_by) == ("entered in error", doctor.user_id)
        adds, edits, removes = (_audit(session, a) for a in ("symptom.add", "symptom.edit", "symptom.remove"))
    assert [s.title for s in current] == ["Exam dread"]
    assert len(history) == 3 and [s.version for s in history if s.deleted_at is not None] == [2]
    for events, count, symptom in ((adds, 2, None), (edits, 1, added.lineage_id), (removes, 1, added.lineage_id)):
        assert len(events) == count
        assert all((e.actor_username, e.entity_id, e.outcome) == (doctor.username, str(patient.id), "success") for e in events)
        if symptom:
            assert events[0].details["symptom"] == str(symptom)
    assert "worse" not in repr([e.details for e in adds + edits + removes])  # no clinical text in the audit log

    with unit_of_work() as session, pytest.raises(Conflict):
        symptoms.edit_symptom(session=session, actor=doctor, lineage_id=added.lineage_id, data={"ref": "icd:MB24.5"})
    with unit_of_work() as session, pytest.raises(Conflict):
        symptoms.remove_symptom(session=session, actor=doctor, lineage_id=added.lineage_id, reason="again")


BAD_ENTRIES = [
    ({"ref": "icd:MB24.5", "duration_value": 3}, "duration_value"),
    ({"ref": "icd:MB24.5", "duration_unit": "weeks"}, "duration_value"),
    ({"ref": "icd:MB24.5", "duration_value": 0, "duration_unit": "days"}, "duration_value"),
    ({"ref": "icd:MB24.5", "duration_value": 3, "duration_unit": "fortnights"}, "duration_unit"),
    ({"ref": "icd:MB24.5", "severity": "extreme"}, "severity"),
    ({"ref": "icd:MB24.5", "severity": "Mild"}, "severity"),
    ({"ref": "icd:MB24.5", "frequency": "hourly"}, "frequency"),
    ({"ref": "icd:NOPE.9"}, "ref"),
    ({"ref": "MB24.5"}, "ref"),
    ({"ref": "Depressed mood"}, "ref"),
    ({"ref": "custom:not-a-uuid"}, "ref"),
    ({"ref": "custom:00000000-0000-0000-0000-000000000000"}, "ref"),
    ({"ref": "icd:MB24.5", "triggers": ["x" * 61]}, "triggers"),
    ({"ref": "icd:MB24.5", "triggers": [f"t{i}" for i in range(21)]}, "triggers"),
    ({"ref": "icd:MB24.5", "notes": "bell\x07"}, "notes"),
    ({"ref": "icd:MB24.5", "onset": "o" * 501}, "onset"),
    ({"severity": "mild"}, "ref"),
]


def test_bad_symptom_input_names_the_field_and_writes_nothing(people):
    doctor, _, patient, _ = people
    with unit_of_work() as session:
        existing = symptoms.attach_symptom(session=session, actor=doctor, patient_id=patient.id, data={"ref": "icd:MB24.3"})
        before = _symptom_state(session)
    wrong = []
    for data, field in BAD_ENTRIES:
        for call in ("attach", "edit"):
            with unit_of_work() as session, pytest.raises(ValidationError) as err:
                if call == "attach":
                    symptoms.attach_symptom(session=session, actor=doctor, patient_id=patient.id, data=data)
                else:
                    symptoms.edit_symptom(session=session, actor=doctor, lineage_id=existing.lineage_id, data=data)
            if field not in err.value.fields:
                wrong.append((call, data, err.value.fields))
    assert wrong == []
    with unit_of_work() as session:
        assert _symptom_state(session) == before
        (still,) = symptoms.list_patient_symptoms(session=session, actor=doctor, patient_id=patient.id)
    assert (still.id, still.version) == (existing.id, 1)
