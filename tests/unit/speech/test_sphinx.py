"""The sphinx engine's own clinical language model: corpus, pronunciations, cached build, thread safety."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading

import pytest

from core.speech import sphinx
from core.speech.audio import decode
from core.speech.base import SpeechError
from tests.conftest import unavailable


def _phone_set() -> set[str]:
    phones: set[str] = set()
    with open(sphinx._default_model_dir() / "cmudict-en-us.dict", encoding="utf-8") as fh:
        for line in fh:
            phones.update(line.split()[1:])
    return phones


def test_corpus_has_several_hundred_distinct_sentences():
    lines = sphinx._read_lines(sphinx.CLINICAL_CORPUS)
    assert len(lines) >= 400
    assert len(set(lines)) == len(lines), "duplicate sentences in the corpus"
    text = " ".join(lines).lower()
    for topic in ("sleep", "appetite", "panic", "voices", "suicid", "alcohol", "sertraline", "side effect",
                  "family", "insight", "judgement", "affect", "milligrams"):
        assert topic in text, topic


def test_drug_pronunciations_use_the_acoustic_models_phones():
    phones = _phone_set()
    entries = sphinx.read_pronunciations()
    drugs = [line.split()[0] for line in sphinx._read_lines(sphinx.CORPUS_DIR / "drugs.dict")]
    assert len({re.sub(r"\(\d+\)$", "", d) for d in drugs}) >= 40
    for word, variants in entries.items():
        for variant in variants:
            assert set(variant.split()) <= phones, (word, variant)
    assert entries["sertraline"] == ["S ER T R AH L IY N"]


def test_every_model_word_has_a_pronunciation():
    sentences = sphinx.corpus_sentences()
    vocabulary = {w for s in sentences for w in s.split()}
    _lines, missing = sphinx.lexicon(vocabulary)
    assert missing == set()
    assert {"olanzapine", "escitalopram", "anhedonia", "schizophrenia"} <= vocabulary
    icd = " ".join(sentences)
    assert "bipolar type two disorder" in icd  # ICD-11 titles, roman numerals said as words


def test_model_is_built_once_and_rebuilt_when_the_corpus_changes(tmp_path):
    corpus = tmp_path / "corpus.txt"
    shutil.copy(sphinx.CLINICAL_CORPUS, corpus)
    lm, dic = sphinx.build_language_model(tmp_path / "cache", corpus)
    assert lm.read_text().startswith("Corpus:") and "\\data\\" in lm.read_text()
    built_at = lm.stat().st_mtime_ns
    assert sphinx.build_language_model(tmp_path / "cache", corpus) == (lm, dic)
    assert lm.stat().st_mtime_ns == built_at  # cached, not rebuilt

    corpus.write_text(corpus.read_text() + "The patient prefers morning appointments.\n")
    lm2, _ = sphinx.build_language_model(tmp_path / "cache", corpus)
    assert lm2 != lm and "appointments" in lm2.read_text()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    return sphinx.SphinxEngine(tmp_path_factory.mktemp("sphinx"))


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> bytes:
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        unavailable("espeak-ng and sox are needed to make test speech")
    directory = tmp_path_factory.mktemp("speech")
    raw, out = directory / "raw.wav", directory / "out.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw),
                    "How is your sleep? Do you hear voices?"], check=True)
    subprocess.run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out),
                    "pad", "1", "3", "repeat", "1"], check=True)
    return decode(out)


def test_engine_info(engine):
    assert engine.info.name == "sphinx" and engine.info.languages == ("en",)
    assert "limited" in engine.info.accuracy_note.lower()


def test_utterances_are_split_at_pauses_and_timed(engine, speech):
    segments = engine.transcribe(speech)
    assert len(segments) == 2  # the sentence pair is said twice, with 3 s of silence between
    assert all(s.end > s.start for s in segments) and segments[0].end < segments[1].start
    assert "sleep" in segments[0].text and "voices" in segments[0].text


def test_concurrent_calls_give_the_same_results(engine, speech):
    expected = engine.transcribe(speech)
    results: list = [None] * 3

    def work(i: int) -> None:
        results[i] = engine.transcribe(speech)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [expected] * 3


def test_other_languages_are_refused(engine):
    with pytest.raises(SpeechError, match="English only"):
        engine.transcribe(b"\x00\x00" * 16000, language="hi")


def test_silence_gives_no_segments(engine):
    assert engine.transcribe(b"\x00\x00" * 32000) == []

