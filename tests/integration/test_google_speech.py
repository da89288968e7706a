"""The google engine drives the real google-cloud-speech SpeechClient against a local gRPC fake of the
Speech v1 service (tests/fakes/speech_server.py): what is sent, how results become segments, and failures."""

from __future__ import annotations

import queue

import grpc
import pytest

from core.config import reset_settings
from core.speech.base import BYTES_PER_SECOND, Segment, SpeechError
from core.speech.engines import available_engines, load_engine, reset_engines
from core.speech.google import RECOGNIZE_LIMIT_SECONDS, GoogleSpeechEngine
from tests.fakes.speech_server import FakeSpeechServer, StreamScript, result

PCM_2S = (b"\x01\x00\xff\xff" * (BYTES_PER_SECOND // 4)) * 2  # 2 s of a tiny square wave


@pytest.fixture
def fake():
    with FakeSpeechServer() as server:
        yield server


def engine_for(fake: FakeSpeechServer, **kwargs) -> GoogleSpeechEngine:
    kwargs.setdefault("retry_seconds", 0)
    kwargs.setdefault("timeout", 10)
    engine = GoogleSpeechEngine(fake.address, **kwargs)
    return engine


def test_recognize_sends_languages_diarization_and_maps_results(fake):
    fake.recognize_results.append([
        result("Namaste doctor.", end=1.0, language="hi-in",
               words=[("Namaste", 0.2, 0.6, 2), ("doctor.", 0.6, 1.0, 2)]),
        # With diarization the words list holds every word so far; this result's words are the last ones.
        result("Kaise ho?", end=1.9, language="hi-in",
               words=[("Namaste", 0.2, 0.6, 2), ("doctor.", 0.6, 1.0, 2),
                      ("Kaise", 1.2, 1.5, 1), ("ho?", 1.5, 1.9, 1)]),
    ])
    engine = engine_for(fake)
    progress: list[float] = []
    segments = engine.transcribe(PCM_2S, language="hi", progress=progress.append)

    [request] = fake.recognize_requests
    config = request.config
    assert config.language_code == "hi-IN"
    assert list(config.alternative_language_codes) == ["en-IN", "mr-IN"]
    assert config.sample_rate_hertz == 16000 and config.encoding.name == "LINEAR16"
    assert config.enable_automatic_punctuation and config.enable_word_time_offsets
    assert config.diarization_config.enable_speaker_diarization
    assert config.diarization_config.min_speaker_count == 2 and config.diarization_config.max_speaker_count == 3
    assert "sertraline" in config.speech_contexts[0].phrases
    assert request.audio.content == PCM_2S

    assert segments == [
        Segment(start=0.2, end=1.0, text="Namaste doctor.", speaker="speaker 2", language="hi-in"),
        Segment(start=1.2, end=1.9, text="Kaise ho?", speaker="speaker 1", language="hi-in"),
    ]
    assert progress[-1] == 1.0
    assert engine.info.languages == ("en-IN", "hi-IN", "mr-IN")


def test_default_language_is_indian_english_with_hindi_and_marathi_alternatives(fake):
    engine_for(fake).transcribe(PCM_2S)
    config = fake.recognize_requests[0].config
    assert config.language_code == "en-IN"
    assert list(config.alternative_language_codes) == ["hi-IN", "mr-IN"]


def test_streaming_sends_config_first_then_audio_and_yields_interim_and_final(fake):
    fake.stream_scripts.append(StreamScript(responses=[
        [result("I have", end=0.6, is_final=False, stability=0.3)],
        [result("I have not been", end=1.0, is_final=False, stability=0.6)],
        [result("I have not been sleeping.", end=1.4, words=[
            ("I", 0.1, 0.2, 1), ("have", 0.2, 0.4, 1), ("not", 0.4, 0.6, 1), ("been", 0.6, 0.9, 1),
            ("sleeping.", 0.9, 1.4, 1)])],
        [result("Since", end=1.7, is_final=False)],
        [result("Since when?", end=2.0)],  # no words: starts where the previous final ended
    ]))
    engine = engine_for(fake)
    chunks = [PCM_2S[i:i + 6400] for i in range(0, len(PCM_2S), 6400)]  # 0.2 s each, as a live queue gives

    out = list(engine.stream(iter(chunks), language="mr"))

    [requests] = fake.streams
    first = requests[0]
    assert first.streaming_config.interim_results is True
    assert not first.audio_content  # the first request carries only the configuration
    config = first.streaming_config.config
    assert config.language_code == "mr-IN" and list(config.alternative_language_codes) == ["en-IN", "hi-IN"]
    assert config.diarization_config.enable_speaker_diarization
    assert all(r.audio_content and not r.streaming_config.config.language_code for r in requests[1:])
    assert fake.stream_audio() == PCM_2S  # every byte arrived, in order

    assert [(final, s.text) for final, s in out] == [
        (False, "I have"), (False, "I have not been"), (True, "I have not been sleeping."),
        (False, "Since"), (True, "Since when?")]
    finals = [s for final, s in out if final]
    assert finals[0] == Segment(start=0.1, end=1.4, text="I have not been sleeping.", speaker="speaker 1",
                                language="en-in")
    assert (finals[1].start, finals[1].end, finals[1].speaker) == (1.4, 2.0, None)


def test_long_audio_goes_through_consecutive_streams_with_continuous_times(fake):
    pcm = PCM_2S * 2  # 4 s, in streams of at most 1.5 s
    for n in range(3):
        fake.stream_scripts.append(StreamScript(responses=[[result(f"part {n}.", end=1.0)]]))
    engine = engine_for(fake, stream_limit_seconds=1.5)
    out = [s for final, s in engine.stream([pcm[i:i + 10000] for i in range(0, len(pcm), 10000)]) if final]
    assert len(fake.streams) == 3
    assert b"".join(fake.stream_audio(i) for i in range(3)) == pcm
    assert [len(fake.stream_audio(i)) for i in range(3)] == [48000, 48000, 32000]
    assert [(s.text, s.end) for s in out] == [("part 0.", 1.0), ("part 1.", 2.5), ("part 2.", 4.0)]


def test_a_file_longer_than_a_minute_is_streamed_without_interim_results(fake):
    pcm = b"\x00\x00" * int((RECOGNIZE_LIMIT_SECONDS + 5) * 16000)
    fake.stream_scripts.append(StreamScript(responses=[[result("Long consultation.", end=30.0)]]))
    segments = engine_for(fake).transcribe(pcm)
    assert not fake.recognize_requests and len(fake.streams) == 1
    assert fake.stream_config().interim_results is False
    assert fake.stream_audio() == pcm
    assert [s.text for s in segments] == ["Long consultation."]


def test_unavailable_service_is_a_speech_error(fake):
    fake.fail_next = [grpc.StatusCode.UNAVAILABLE]
    with pytest.raises(SpeechError, match="unavailable"):
        engine_for(fake).transcribe(PCM_2S)


def test_one_unavailable_answer_is_retried(fake):
    fake.fail_next = [grpc.StatusCode.UNAVAILABLE]
    fake.recognize_results.append([result("Better now.", end=1.0)])  # the failed call does not use it
    segments = engine_for(fake, retry_seconds=5).transcribe(PCM_2S)
    assert len(fake.recognize_requests) == 2
    assert [s.text for s in segments] == ["Better now."]


def test_deadline_exceeded_is_a_speech_error(fake):
    fake.delay = 1.5
    with pytest.raises(SpeechError, match="in time"):
        engine_for(fake, timeout=0.3).transcribe(PCM_2S)


def test_stream_failing_midway_raises_after_the_results_already_given(fake):
    fake.stream_scripts.append(StreamScript(
        responses=[[result("Doctor I", end=0.5, is_final=False)], [result("Doctor I feel", end=0.8)],
                   [result("never sent", end=1.0)]],
        abort_after=2))
    got = []
    with pytest.raises(SpeechError, match="unavailable"):
        for final, segment in engine_for(fake).stream(PCM_2S[i:i + 6400] for i in range(0, len(PCM_2S), 6400)):
            got.append((final, segment.text))
    assert got == [(False, "Doctor I"), (True, "Doctor I feel")]


def test_server_stopped_mid_stream_is_a_speech_error(fake):
    fake.stream_scripts.append(StreamScript(responses=[[result("Hello", end=0.3, is_final=False)]]))
    live: queue.Queue[bytes | None] = queue.Queue()

    def capture():  # type: ignore[no-untyped-def]
        while (chunk := live.get()) is not None:
            yield chunk

    for _ in range(3):
        live.put(b"\x00\x00" * 1600)
    got = []
    with pytest.raises(SpeechError):
        for _final, segment in engine_for(fake, timeout=5).stream(capture()):
            got.append(segment.text)
            fake.stop(grace=0)  # the server goes away mid-stream
            live.put(b"\x00\x00" * 1600)  # while capture goes on
    live.put(None)
    assert got == ["Hello"]


def test_load_engine_google_from_settings(fake, monkeypatch):
    monkeypatch.setenv("SYNAPSE_GOOGLE_SPEECH_ENDPOINT", fake.address)
    reset_settings()
    reset_engines()
    try:
        assert "google" in available_engines()
        engine = load_engine("google")
        assert isinstance(engine, GoogleSpeechEngine) and load_engine("google") is engine
        fake.recognize_results.append([result("Loaded from settings.", end=1.0)])
        assert [s.text for s in engine.transcribe(PCM_2S)] == ["Loaded from settings."]
    finally:
        monkeypatch.delenv("SYNAPSE_GOOGLE_SPEECH_ENDPOINT")
        reset_settings()
        reset_engines()


def test_without_credentials_google_is_unavailable(monkeypatch):
    from core.speech.base import EngineUnavailable

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.delenv("SYNAPSE_GOOGLE_SPEECH_ENDPOINT", raising=False)
    reset_settings()
    reset_engines()
    assert "google" not in available_engines()
    with pytest.raises(EngineUnavailable, match="GOOGLE_APPLICATION_CREDENTIALS"):
        load_engine("google")
