"""The live pipeline with real engines: Google's client against the local fake gRPC server (the server goes
away mid-consultation), no engine at all, then the stored audio transcribed later (pending -> done); and the
Whisper engine live when its packaged model is installed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from core.speech.base import EngineUnavailable
from core.speech.live import DecodePool, transcribe_pcm
from tests.fakes.speech_server import FakeSpeechServer, result
from tests.unit.speech.live_audio import content_words, frames_48k, silence_48k_stereo, speech_48k_stereo
from tests.unit.speech.test_live_pipeline import SENTENCE_1, SENTENCE_2, Recorder, wait_for


def utterance(text: str) -> np.ndarray:
    return np.concatenate([silence_48k_stereo(0.5), speech_48k_stereo(text), silence_48k_stereo(0.8)])


def push(session, audio: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    for frame in frames_48k(audio):
        session.push_frame(frame)


@pytest.fixture(scope="module")
def sphinx():  # type: ignore[no-untyped-def]
    from core.speech.engines import load_engine

    return load_engine("sphinx")


def google_engine(address: str):  # type: ignore[no-untyped-def]
    from core.speech.google import GoogleSpeechEngine

    # Short retry and timeout so the outage is noticed in a second, not after the production 20 s of retries.
    return GoogleSpeechEngine(address, retry_seconds=0.5, timeout=5.0, diarization=False)


def test_google_outage_mid_stream_then_transcribed_later(sphinx):
    first, second, third = utterance(SENTENCE_2), utterance(SENTENCE_1), utterance(SENTENCE_2)
    rec = Recorder()
    with FakeSpeechServer() as fake:
        fake.recognize_results.append([result("She denies any suicidal ideation or plans.", end=2.4)])
        engine = google_engine(fake.address)
        # Interims off: every Recognize call is a final, so the script lines up with the utterances.
        session = rec.session(engine, interim_seconds=1000.0, time_offset=30.0, pool=DecodePool())
        push(session, first)
        wait_for(lambda: len(rec.finals) == 1, what="the first final from the fake server")
        sent = fake.recognize_requests[0]
        assert sent.config.sample_rate_hertz == 16_000 and sent.config.language_code == "en-IN"
        fake.stop()  # Google goes away mid-consultation
        push(session, second)
        wait_for(lambda: session.transcription_pending, what="transcription to become pending")
        assert "unavailable" in (session.last_error or "").lower()
        stored_at_outage = session.stored_seconds
        push(session, third)
        segments = session.stop(timeout=5.0)  # no exception escapes
    engine.close()

    # Capture and storage went on: every byte of all three utterances is stored, in order.
    total = len(first) + len(second) + len(third)
    pcm = rec.stored()
    assert len(pcm) == round(total / 3) * 2 and session.stored_seconds > stored_at_outage
    assert sorted(rec.chunks) == list(range(len(rec.chunks)))
    # The one final that made it, on the consultation timeline; what Google got is the stored audio there.
    assert [s.text for s in segments] == ["She denies any suicidal ideation or plans."]
    assert 30.0 < segments[0].start < segments[0].end <= session.pending_since
    # What Google got: the utterance cut from the stored audio, with 0.6 s of silence either side.
    pad = bytes(round(0.6 * 16_000) * 2)
    audio = sent.audio.content
    assert audio.startswith(pad) and audio.endswith(pad) and len(audio) > 3 * len(pad)
    where = pcm.find(audio[len(pad):-len(pad)])
    assert abs(where - round((segments[0].start - 30.0) * 16_000) * 2) <= 640
    # pending_since: the end of the last final utterance (before the second sentence starts).
    assert session.pending_since - 30.0 <= len(first) / 48_000

    # Later (pending -> done): the stored audio from pending_since, with a working engine.
    since = session.pending_since - 30.0
    rest = pcm[round(since * 16_000) * 2:]
    with FakeSpeechServer() as fake:
        fake.recognize_results += [[result("I wake up at three in the morning.", end=3.0)],
                                   [result("She denies any suicidal ideation.", end=2.0)]]
        later = transcribe_pcm(google_engine(fake.address), rest, session.pending_since)
        assert len(fake.recognize_requests) == 2  # one call per utterance
    assert [s.text for s in later] == ["I wake up at three in the morning.",
                                       "She denies any suicidal ideation."]
    assert session.pending_since <= later[0].start < later[1].start <= 30.0 + total / 48_000
    # And with the offline engine, the words really spoken.
    offline = " ".join(s.text for s in transcribe_pcm(sphinx, rest, session.pending_since))
    for sentence in (SENTENCE_1, SENTENCE_2):
        expected = content_words(sentence)
        assert len(expected & content_words(offline)) >= len(expected) / 2, (sentence, offline)


def test_no_engine_then_transcribed_later(sphinx):
    audio = np.concatenate([utterance(SENTENCE_1), utterance(SENTENCE_2)])
    rec = Recorder()
    session = rec.session(None, time_offset=5.0)
    push(session, audio)
    assert session.stop() == [] and session.transcription_pending and session.pending_since == 5.0
    pcm = rec.stored()
    assert len(pcm) == round(len(audio) / 3) * 2
    segments = transcribe_pcm(sphinx, pcm, session.pending_since)
    assert len(segments) >= 2 and all(5.0 <= s.start <= s.end <= 5.0 + len(audio) / 48_000 for s in segments)
    text = " ".join(s.text for s in segments)
    for sentence in (SENTENCE_1, SENTENCE_2):
        expected = content_words(sentence)
        assert len(expected & content_words(text)) >= len(expected) / 2, (sentence, text)


def test_whisper_live_when_the_packaged_model_is_installed():
    from core.speech.engines import load_engine
    from tests.conftest import unavailable

    try:
        whisper = load_engine("whisper")
    except EngineUnavailable as exc:
        unavailable(f"no Whisper model: {exc}")
    audio = np.concatenate([utterance(SENTENCE_1), utterance(SENTENCE_2)])
    rec = Recorder()
    session = rec.session(whisper, pool=DecodePool())
    push(session, audio)
    segments = session.stop(timeout=30.0)
    assert not session.transcription_pending, session.last_error
    text = " ".join(s.text for s in segments)
    for sentence in (SENTENCE_1, SENTENCE_2):
        expected = content_words(sentence)
        assert len(expected & content_words(text)) >= 0.75 * len(expected), (sentence, text)
    assert all(a.start <= b.start for a, b in itertools.pairwise(segments))
    assert len(rec.stored()) == round(len(audio) / 3) * 2
    assert session.stored_seconds == pytest.approx(len(audio) / 48_000, abs=1e-3)
