"""Symptom search over the ICD-11 catalogue and one doctor's custom symptoms, on PostgreSQL.

The catalogue is the one migration 0002 loads; N custom symptoms (default 10,000) of the searching doctor,
plus N/5 of another doctor (which must never show), are bulk-inserted with varied clinical wording
("Persistent early morning waking after bereavement"), name_key = normalise_name(name).

core.services.symptoms.search_symptoms as a doctor (the catalogue, read once per database, plus the
doctor's customs, re-checked by one COUNT/MAX query per call; ranked in Python, rapidfuzz for typos) for
queries covering each ranking tier: exact code "MB24.5", title prefix "depressed", word prefix "mood",
substring "somnia", typo "anxeity". Median ms per query and over all calls. Target: <= 20 ms median.

Baseline: one raw SQL query a plain search box would make over the same rows — code prefix or title
substring (LIKE '%q%') over master_symptoms UNION ALL the doctor's custom_symptoms, catalogue first and
shortest title first, top 20 — with no tiers and no typo tolerance (it finds nothing for "anxeity"); timed
interleaved with the service on the same connection pool.

    python -m bench.symptom_search [--size 10000]
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

from sqlalchemy import Engine, column, table, text

from bench.common import (
    PG_ADMIN_URL,
    app_environment,
    cli,
    make_bench_user,
    median,
    ratio,
    throwaway_postgres,
    timed,
    verdict,
)
from core import db as core_db
from core.db import unit_of_work
from core.migrate import upgrade
from core.models.base import utcnow
from core.security.rbac import Actor
from core.services.symptoms import search_symptoms
from core.validation import normalise_name

TARGET_MS = 20.0
LIMIT = 20
TIER_ORDER = ("code", "prefix", "word", "substring", "fuzzy")
# (query, the tier it exercises, text the best hit of that tier must contain)
QUERIES = (
    ("MB24.5", "code", "Depressed mood"),
    ("depressed", "prefix", "Depressed mood"),
    ("mood", "word", "mood"),
    ("somnia", "substring", "somnia"),
    ("anxeity", "fuzzy", "anxiety"),
)
# fmt: off
QUALIFIERS = (
    'Persistent', 'Intermittent', 'Episodic', 'Occasional', 'Severe', 'Mild', 'Worsening', 'Sudden',
    'Recurrent', 'Chronic', 'Fluctuating', 'Transient', 'Marked', 'Frequent', 'Nocturnal', 'Situational',
    'Brief', 'Prolonged', 'Escalating', 'Low-grade', 'Unexplained', 'Reported', 'Observed', 'Unusual',
    'Longstanding',
)
# fmt: on
# fmt: off
CORES = (
    'low mood', 'irritable mood', 'mood swings', 'tearfulness', 'loss of interest in hobbies',
    'difficulty falling asleep', 'early morning waking', 'insomnia', 'hypersomnia', 'nightmares',
    'racing thoughts', 'worry about health', 'anxiety about work', 'anxiety in crowds',
    'fear of travelling alone', 'panic with palpitations', 'breathlessness when anxious', 'restlessness',
    'poor concentration', 'forgetfulness', 'indecisiveness', 'feelings of guilt', 'hopelessness',
    'self-criticism', 'social withdrawal', 'avoidance of family', 'reduced appetite', 'overeating',
    'weight loss', 'fatigue', 'tension headaches', 'body aches', 'stomach upset', 'hearing voices',
    'suspiciousness of neighbours', 'checking locks', 'handwashing rituals', 'intrusive thoughts',
    'anger outbursts', 'irritability with children', 'low self-esteem', 'low motivation', 'low energy',
    'excessive sleep', 'disturbed sleep', 'dizziness', 'trembling hands', 'sweating in meetings',
    'thoughts of death', 'fear of dying', 'preoccupation with illness', 'craving for alcohol',
    'increased tobacco use', 'cannabis use', 'jaw clenching', 'nail biting',
)
# fmt: on
# fmt: off
CONTEXTS = (
    '', 'in the evenings', 'after bereavement', 'since job loss', 'during exams', 'after childbirth',
    'at work', 'at home', 'on weekends', 'after arguments', 'since moving house', 'during monsoon',
    'before menses', 'after night shifts', 'since retirement', 'since the accident', 'when alone',
    'in the mornings', 'after screen use', 'during travel',
)
# fmt: on
custom_table = table(
    "custom_symptoms", *(column(c) for c in ("id", "doctor_id", "name", "name_key", "kind", "created_at"))
)
BASELINE_SQL = text("""
    SELECT code, title, kind FROM (
        SELECT code, title, kind FROM master_symptoms WHERE upper(code) LIKE :code OR lower(title) LIKE :sub
        UNION ALL
        SELECT NULL, name, kind FROM custom_symptoms WHERE doctor_id = :doctor AND name_key LIKE :sub
    ) AS hits
    ORDER BY code IS NULL, length(title), title
    LIMIT :limit
""")


def custom_names(count: int, seed: int) -> list[str]:
    """`count` distinct wordings (distinct after normalise_name, as the unique key requires)."""
    combos = [(q, c, x) for q in QUALIFIERS for c in CORES for x in CONTEXTS]
    if count > len(combos):
        raise ValueError(f"at most {len(combos)} distinct custom symptoms can be generated")
    names, keys = [], set()
    for q, c, x in random.Random(seed).sample(combos, count):
        name = f"{q} {c} {x}".strip()
        if normalise_name(name) not in keys:
            keys.add(normalise_name(name))
            names.append(name)
    return names


def insert_customs(engine: Engine, doctor_id: uuid.UUID, names: list[str]) -> set[str]:
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "doctor_id": doctor_id,
            "name": name,
            "name_key": normalise_name(name),
            "kind": "disorder" if k % 9 == 0 else "symptom",
            "created_at": now - dt.timedelta(minutes=k),
        }
        for k, name in enumerate(names)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(custom_table.insert(), rows[start : start + 5000])
    return {f"custom:{r['id']}" for r in rows}


def by_service(actor: Actor, query: str) -> list:
    with unit_of_work() as session:
        return search_symptoms(session=session, actor=actor, query=query, limit=LIMIT)


def by_sql(engine: Engine, doctor_id: uuid.UUID, query: str) -> list:
    params = {
        "code": query.strip().upper() + "%",
        "sub": f"%{normalise_name(query)}%",
        "doctor": doctor_id,
        "limit": LIMIT,
    }
    with engine.connect() as conn:
        return conn.execute(BASELINE_SQL, params).all()


def check_hits(
    query: str, tier: str, must_contain: str, hits: list, own: set[str], foreign: set[str]
) -> list[str]:
    problems = []
    kinds = [h.match for h in hits]
    if not hits or len(hits) > LIMIT:
        problems.append(f"{query!r}: {len(hits)} hits")
    if kinds != sorted(kinds, key=TIER_ORDER.index):
        problems.append(f"{query!r}: hits out of tier order {kinds}")
    best = next((h for h in hits if h.match == tier), None)
    if best is None or must_contain.lower() not in best.title.lower():
        problems.append(
            f"{query!r}: no {tier} hit containing {must_contain!r} ({[(h.match, h.title) for h in hits[:3]]})"
        )
    if tier == "code" and (not hits or hits[0].code != query):
        problems.append(f"{query!r}: the exact code is not the first hit")
    if any(h.ref in foreign for h in hits):
        problems.append(f"{query!r}: another doctor's custom symptom was returned")
    if any(h.source == "custom" and h.ref not in own for h in hits):
        problems.append(f"{query!r}: a custom hit that is not the doctor's")
    return problems


def run(size: int = 10_000, rounds: int = 50, admin_url: str = PG_ADMIN_URL) -> dict:
    problems: list[str] = []
    per_query: dict[str, dict] = {}
    all_service: list[float] = []
    all_sql: list[float] = []
    with app_environment(), throwaway_postgres(admin_url) as url:
        engine = core_db.make_engine(url)
        upgrade(engine)
        core_db.use_engine(engine)
        doctor = make_bench_user("doctor", "benchdoctor", "Bench Doctor")
        other = make_bench_user("doctor", "otherdoctor", "Other Doctor")
        with engine.connect() as conn:
            catalogue = conn.execute(text("SELECT count(*) FROM master_symptoms")).scalar_one()
        load_seconds, own = timed(insert_customs, engine, doctor.user_id, custom_names(size, seed=3))
        foreign = insert_customs(engine, other.user_id, custom_names(max(1, size // 5), seed=4))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE custom_symptoms"))
        custom_hits = 0
        for query, tier, must_contain in QUERIES:
            service, sql = [], []
            for warmup in (True,) * 3 + (False,) * rounds:  # interleaved
                t_service, hits = timed(by_service, doctor, query)
                t_sql, rows = timed(by_sql, engine, doctor.user_id, query)
                if not warmup:
                    service.append(t_service)
                    sql.append(t_sql)
            problems += check_hits(query, tier, must_contain, hits, own, foreign)
            custom_hits += sum(h.source == "custom" for h in hits)
            all_service += service
            all_sql += sql
            s_ms, b_ms = median(service) * 1e3, median(sql) * 1e3
            per_query[query] = {
                "tier": tier,
                "service_ms": s_ms,
                "sql_ms": b_ms,
                "ratio": ratio(s_ms, b_ms),
                "hits": len(hits),
                "sql_rows": len(rows),
                "first": (hits[0].match, hits[0].title) if hits else None,
            }
    if custom_hits == 0:
        problems.append("no query returned a custom symptom: the customs were not searched")
    service_ms, sql_ms = median(all_service) * 1e3, median(all_sql) * 1e3
    result = {
        "size": size,
        "catalogue": catalogue,
        "rounds": rounds,
        "load_seconds": load_seconds,
        "queries": per_query,
        "service_ms": service_ms,
        "sql_ms": sql_ms,
        "ratio": ratio(service_ms, sql_ms),
        "problems": problems,
    }
    print(report(result))
    return result


def report(r: dict) -> str:
    lines = [
        (
            f"symptom_search: {r['catalogue']} ICD-11 entries + {r['size']} custom symptoms of the doctor "
            f"(and {max(1, r['size'] // 5)} of another) on PostgreSQL; {r['rounds']} timed calls per query"
        ),
        "  query        tier        service ms   SQL LIKE ms   ratio   hits  SQL rows  first hit",
    ]
    for query, q in r["queries"].items():
        first = f"{q['first'][0]}: {q['first'][1]}" if q["first"] else "-"
        lines.append(
            f"  {query!r:<12} {q['tier']:<10} {q['service_ms']:>10.2f}   {q['sql_ms']:>11.2f}   "
            f"{q['ratio']:>5.2f}x  {q['hits']:>4}  {q['sql_rows']:>8}  {first[:60]}"
        )
    lines += [
        (
            f"  all queries: search_symptoms median {r['service_ms']:.2f} ms   "
            f"target <= {TARGET_MS:g} ms: {verdict(r['service_ms'] <= TARGET_MS)}"
        ),
        f"               raw SQL LIKE (baseline) median {r['sql_ms']:.2f} ms; ratio {r['ratio']:.2f}x",
        f"  wrong results: {len(r['problems'])}",
    ]
    return "\n".join(lines + [f"    {p}" for p in r["problems"][:5]])


if __name__ == "__main__":
    cli(run, 10_000, "number of custom symptoms of the searching doctor")
