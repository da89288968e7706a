"""The live capture pipeline as plain code (core.speech.live): WebRTC frames in, PCM16K chunks, interim text
and final segments out. Real frames (48 kHz stereo s16, 960 samples, built from espeak-ng speech with sox),
real resampler, real voice-activity detector, the real sphinx engine."""

from __future__ import annotations

import itertools
import threading
import time

import numpy as np
import pytest

from core.speech.base import BYTES_PER_SECOND, EngineInfo, Segment
from core.speech.live import SILENCE_DBFS, DecodePool, LiveSession, transcribe_pcm
from tests.unit.speech.live_audio import (
    content_words,
    frames_48k,
    silence_48k_stereo,
    sox_reference_16k_mono,
    speech_48k_stereo,
    speech_pcm16k,
)

# Sentences from the sphinx engine's clinical corpus: this tests the pipeline, not the engine's accuracy
# (tests/integration/test_speech_wer.py does that on held-out sentences).
SENTENCE_1 = "I wake up at three in the morning and cannot go back to sleep."
SENTENCE_2 = "She denies any suicidal ideation or plans."


class Recorder:
    """What a caller of LiveSession would store: chunks by seq, segments, interim texts, errors, in order."""

    def __init__(self, fail_chunks: int = 0) -> None:
        self.chunks: dict[int, bytes] = {}
        self.events: list[tuple[str, object]] = []
        self.errors: list[str] = []
        self.fail_chunks = fail_chunks  # the first N on_chunk calls raise, like a database that is down
        self.lock = threading.Lock()

    def on_chunk(self, seq: int, pcm: bytes) -> None:
        with self.lock:
            if self.fail_chunks > 0:
                self.fail_chunks -= 1
                raise OSError("database is down")
            assert seq not in self.chunks, f"chunk {seq} stored twice"
            self.chunks[seq] = pcm

    def on_final(self, segment: Segment) -> None:
        self.events.append(("final", segment))

    def on_interim(self, text: str) -> None:
        self.events.append(("interim", text))

    def on_error(self, message: str) -> None:
        self.errors.append(message)

    def session(self, engine, **kwargs) -> LiveSession:  # type: ignore[no-untyped-def]
        return LiveSession(engine, self.on_chunk, self.on_final, on_error=self.on_error,
                           on_interim=self.on_interim, **kwargs)

    @property
    def finals(self) -> list[Segment]:
        return [e for kind, e in self.events if kind == "final"]  # type: ignore[misc]

    def stored(self) -> bytes:
        return b"".join(self.chunks[k] for k in sorted(self.chunks))


def wait_for(condition, timeout: float = 10.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def sphinx():  # type: ignore[no-untyped-def]
    from core.speech.engines import load_engine

    return load_engine("sphinx")


# -- frames in, PCM16K chunks out ----------------------------------------------------------------------------

def test_webrtc_frames_become_pcm16k_chunks_exactly():
    audio = np.concatenate([silence_48k_stereo(0.4), speech_48k_stereo(SENTENCE_1), silence_48k_stereo(0.3)])
    audio = audio[: len(audio) - 7]  # not a whole number of frames, nor of 3 samples
    rec = Recorder()
    session = rec.session(None, chunk_seconds=1.0, first_seq=5)
    for frame in frames_48k(audio):
        session.push_frame(frame)
    assert session.stop(timeout=5.0) == []

    out = np.frombuffer(rec.stored(), dtype="<i2")
    # After the flush at stop the resampler has given round(n * 16000 / 48000) samples: exact, none held back.
    assert len(out) == round(len(audio) / 3)
    assert session.received_seconds == pytest.approx(len(audio) / 48_000)
    assert session.stored_bytes == 2 * len(out) and session.unstored_seconds < 1e-3
    # Chunk boundaries every chunk_seconds, sequence numbers from first_seq without a gap.
    seqs = sorted(rec.chunks)
    assert seqs == list(range(5, 5 + len(seqs)))
    sizes = [len(rec.chunks[s]) for s in seqs]
    assert all(size == BYTES_PER_SECOND for size in sizes[:-1]) and 0 < sizes[-1] <= BYTES_PER_SECOND
    assert session.next_seq == seqs[-1] + 1
    # The same audio resampled by sox: same length within a sample, same waveform.
    ref = sox_reference_16k_mono(audio).astype(np.float64)
    assert abs(len(ref) - len(out)) <= 1
    n = min(len(ref), len(out)) - 64
    best = max(np.corrcoef(out[32:32 + n - 32].astype(np.float64), ref[32 + lag:32 + lag + n - 32])[0, 1]
               for lag in range(-8, 9))
    assert best > 0.99, best


def test_format_changes_and_pcm_input_lose_no_sample():
    """A browser may renegotiate (44.1 kHz, mono); push_pcm may follow frames: every sample is converted."""
    import av

    rec = Recorder()
    session = rec.session(None, chunk_seconds=0.5)
    stereo = (np.random.default_rng(1).normal(0, 3000, (48_000 + 123, 2))).astype("<i2")
    for frame in frames_48k(stereo):
        session.push_frame(frame)
    mono44 = (np.random.default_rng(2).normal(0, 3000, (1, 44_100 + 17))).astype("<i2")
    for i in range(0, mono44.shape[1], 882):
        block = np.ascontiguousarray(mono44[:, i:i + 882])
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
        frame.sample_rate = 44_100
        session.push_frame(frame)
    session.push_pcm(b"\x01\x00" * 8000)
    session.stop(timeout=5.0)
    expected = round((48_000 + 123) / 3) + round((44_100 + 17) * 16_000 / 44_100) + 8000
    assert len(rec.stored()) == 2 * expected
    assert rec.stored().endswith(b"\x01\x00" * 8000)
    assert session.dropped_frames == 0 and rec.errors == []


def test_level_meter_reads_the_last_100_ms():
    t = np.arange(48_000) / 48_000
    tone = (0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2")
    rec = Recorder()
    session = rec.session(None)
    assert session.level_dbfs == SILENCE_DBFS
    for frame in frames_48k(np.stack([tone, tone], axis=1)):
        session.push_frame(frame)
    wait_for(lambda: session.level_dbfs > SILENCE_DBFS, what="a level")
    assert session.level_dbfs == pytest.approx(-9.03, abs=0.5)  # a sine at half scale: RMS -9 dBFS
    session.pause()
    wait_for(lambda: session.level_dbfs == SILENCE_DBFS, what="the meter to drop while paused")
    session.stop()


# -- durable chunks: pause, storage failure, crash and resume ----------------------------------------------

def pcm_noise(seconds: float, seed: int) -> bytes:
    return np.random.default_rng(seed).normal(0, 2000, round(seconds * 16_000)).astype("<i2").tobytes()


def test_paused_audio_is_neither_stored_nor_counted():
    a, b, c = pcm_noise(1.3, 1), pcm_noise(2.0, 2), pcm_noise(0.7, 3)
    rec = Recorder()
    session = rec.session(None, chunk_seconds=1.0)
    session.push_pcm(a)
    session.pause()
    session.push_pcm(b)
    wait_for(lambda: session.stored_bytes == len(a), what="the chunk before the pause to be stored")
    assert session.paused
    session.resume()
    session.push_pcm(c)
    session.stop()
    assert rec.stored() == a + c
    # The partial chunk before the pause was flushed on its own (1.0 s + 0.3 s), then chunks go on.
    assert [len(rec.chunks[k]) for k in sorted(rec.chunks)] == [32_000, 9_600, 22_400]
    assert session.received_seconds == pytest.approx((len(a) + len(c)) / BYTES_PER_SECOND)


def test_storage_failure_is_retried_and_nothing_is_dropped():
    audio = pcm_noise(5.5, 4)
    rec = Recorder(fail_chunks=4)
    session = rec.session(None, chunk_seconds=1.0)
    for i in range(0, len(audio), 640):
        session.push_pcm(audio[i:i + 640])
    wait_for(lambda: session.storage_error is not None, what="the storage error to show")
    session.stop(timeout=10.0)
    assert rec.stored() == audio  # all of it, in order, each chunk once
    assert sorted(rec.chunks) == list(range(6))
    assert session.storage_error is None
    assert len([e for e in rec.errors if "storing audio failed" in e]) == 1  # once per failure streak


def test_crash_and_resume_lose_no_audio_bytes():
    """A dropped connection (input stops), then the server dies; a new session resumes the consultation."""
    first, second = pcm_noise(6.3, 5), pcm_noise(4.1, 6)
    rec = Recorder()
    session = rec.session(None, chunk_seconds=2.0, idle_flush_seconds=0.2)
    for i in range(0, len(first), 640):
        session.push_pcm(first[i:i + 640])
    # Input stopped: after idle_flush_seconds the partial chunk is stored without waiting for more.
    wait_for(lambda: session.stored_bytes == len(first), what="the partial chunk to be flushed")
    session.abort()  # the crash: no flush, no further callback
    stored_before = dict(rec.chunks)

    resumed = rec.session(None, chunk_seconds=2.0, first_seq=max(rec.chunks) + 1,
                          time_offset=sum(len(c) for c in rec.chunks.values()) / BYTES_PER_SECOND)
    assert resumed.first_seq == session.next_seq == 4 and resumed.time_offset == pytest.approx(6.3)
    for i in range(0, len(second), 960):
        resumed.push_pcm(second[i:i + 960])
    resumed.stop()
    assert {k: rec.chunks[k] for k in stored_before} == stored_before
    assert sorted(rec.chunks) == list(range(len(rec.chunks)))  # one sequence across both sessions
    assert sum(len(c) for c in rec.chunks.values()) == len(first) + len(second)  # no byte lost
    assert rec.stored() == first + second


def test_crash_mid_stream_keeps_an_exact_prefix():
    """A crash while audio is still arriving: what was stored is exactly the start of what was sent, and the
    loss is less than one chunk (the one being filled)."""
    audio = pcm_noise(7.5, 7)
    rec = Recorder()
    session = rec.session(None, chunk_seconds=2.0, idle_flush_seconds=30.0)
    session.push_pcm(audio)
    wait_for(lambda: session.stored_bytes >= 3 * 2 * BYTES_PER_SECOND, what="three whole chunks")
    session.abort()
    stored = rec.stored()
    assert audio.startswith(stored) and len(audio) - len(stored) < 2 * BYTES_PER_SECOND
    assert sorted(rec.chunks) == [0, 1, 2]


# -- transcription ---------------------------------------------------------------------------------------

def test_no_engine_means_pending_and_capture_goes_on():
    rec = Recorder()
    session = rec.session(None, time_offset=12.5)
    for frame in frames_48k(speech_48k_stereo(SENTENCE_2)):
        session.push_frame(frame)
    assert session.transcription_pending and session.pending_since == 12.5
    assert session.stop() == [] and rec.finals == []
    assert session.stored_seconds == pytest.approx(session.received_seconds, abs=1e-3)
    assert "no speech engine" in (session.last_error or "")


def test_sphinx_live_interim_then_final_segments(sphinx):
    audio = np.concatenate([silence_48k_stereo(0.6), speech_48k_stereo(SENTENCE_1), silence_48k_stereo(0.8),
                            speech_48k_stereo(SENTENCE_2), silence_48k_stereo(0.8)])
    frames = frames_48k(audio)
    rec = Recorder()
    session = rec.session(sphinx, time_offset=100.0, pool=DecodePool())
    # Push the first 2.5 s (speech under way), as the browser would, and wait for the interim text.
    head = 125
    for frame in frames[:head]:
        session.push_frame(frame)
    wait_for(lambda: session.interim_text != "", what="interim text")
    assert not rec.finals
    for frame in frames[head:]:
        session.push_frame(frame)
    segments = session.stop(timeout=10.0)

    assert not session.transcription_pending and session.last_error is None
    kinds = [kind for kind, _ in rec.events]
    assert kinds[0] == "interim" and "final" in kinds
    assert segments == rec.finals and len(segments) >= 2
    text = " ".join(s.text for s in segments)
    for sentence in (SENTENCE_1, SENTENCE_2):
        expected = content_words(sentence)
        assert len(expected & content_words(text)) >= len(expected) / 2, (sentence, text)
    # Consultation timestamps: time_offset + position, in order, inside the audio.
    duration = len(audio) / 48_000
    assert all(100.0 <= s.start <= s.end <= 100.0 + duration + 0.01 for s in segments)
    assert all(a.end <= b.start + 1e-6 for a, b in itertools.pairwise(segments))
    assert segments[0].start == pytest.approx(100.6, abs=0.5)  # speech starts after 0.6 s of silence
    assert session.interim_text == ""
    assert len(rec.stored()) == round(len(audio) / 3) * 2


def test_transcribe_pcm_gives_the_same_timeline(sphinx):
    pcm = bytes(16_000) + speech_pcm16k(SENTENCE_2) + bytes(16_000)
    progress: list[float] = []
    segments = transcribe_pcm(sphinx, pcm, 40.0, progress=progress.append)
    assert segments and segments[0].start == pytest.approx(40.5, abs=0.5)
    expected = content_words(SENTENCE_2)
    assert len(expected & content_words(" ".join(s.text for s in segments))) >= len(expected) / 2
    assert progress[-1] == 1.0 and progress == sorted(progress)


class BlockedEngine:
    """An engine whose transcribe waits until released: a stand-in for a slow or stuck decoder."""

    info = EngineInfo(name="blocked", model="test", languages=("en",))

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def transcribe(self, pcm, *, language=None, progress=None):  # type: ignore[no-untyped-def]
        self.calls += 1
        self.release.wait(30)
        return [Segment(0.0, len(pcm) / BYTES_PER_SECOND, "words")]


def test_push_frame_never_waits_for_decoding():
    engine = BlockedEngine()
    pool = DecodePool()
    speech = speech_48k_stereo(SENTENCE_1)
    audio = np.concatenate([silence_48k_stereo(0.5), speech, silence_48k_stereo(0.5)] * 4)
    frames = frames_48k(audio)[:1000]  # 20 s of audio
    rec = Recorder()
    session = rec.session(engine, pool=pool)
    began = time.perf_counter()
    slowest = 0.0
    for frame in frames:
        t0 = time.perf_counter()
        session.push_frame(frame)
        slowest = max(slowest, time.perf_counter() - t0)
    pushing = time.perf_counter() - began
    # 1000 pushes while the engine is stuck: they took a small fraction of the 20 s they carry.
    assert pushing < 2.0, pushing
    # Capture and storage went on while the engine was stuck in its first call.
    wait_for(lambda: session.stored_seconds >= 16.0, what="chunks stored while decoding is stuck")
    assert engine.calls == 1 and not rec.finals
    engine.release.set()
    segments = session.stop(timeout=10.0)
    assert segments and all(s.text == "words" for s in segments)
    assert session.stored_bytes == round(len(frames) * 960 / 3) * 2
    pool.close()
    print(f"1000 push_frame calls: {pushing * 1000:.1f} ms in all, slowest {slowest * 1e6:.0f} µs")


def test_stop_finalises_the_last_utterance_within_2_seconds(sphinx):
    """Speech still going on when Stop is pressed: stop() returns within 2 s with that utterance final."""
    first = np.concatenate([silence_48k_stereo(0.5), speech_48k_stereo(SENTENCE_2), silence_48k_stereo(0.8)])
    last = speech_48k_stereo(SENTENCE_1)[: 48_000 * 3]  # cut off mid-sentence, no silence after it
    rec = Recorder()
    session = rec.session(sphinx, pool=DecodePool())
    for frame in frames_48k(first):
        session.push_frame(frame)
    wait_for(lambda: len(rec.finals) >= 1, what="the first utterance's final")
    for frame in frames_48k(last):  # at real-time pace the last 3 s would take 3 s to arrive
        session.push_frame(frame)
        time.sleep(0.002)
    began = time.perf_counter()
    segments = session.stop()
    took = time.perf_counter() - began
    assert took < 2.0, f"stop took {took:.2f} s"
    assert not session.transcription_pending, session.last_error
    assert len(segments) >= 2 and segments[-1].start >= len(first) / 48_000 - 0.3
    assert content_words(segments[-1].text) & {"wake", "three", "morning"}, segments[-1].text


def test_engine_failure_makes_transcription_pending_not_capture():
    """An engine that raises: pending from the end of the last final, chunks go on, nothing escapes."""

    class FailingAfterFirst:
        info = EngineInfo(name="flaky", model="test", languages=("en",))

        def __init__(self) -> None:
            self.finals = 0

        def transcribe(self, pcm, *, language=None, progress=None):  # type: ignore[no-untyped-def]
            self.finals += 1  # interims are off (interim_seconds=100): every call is a final
            if self.finals > 1:
                raise ConnectionError("speech service unreachable")
            return [Segment(0.0, len(pcm) / BYTES_PER_SECOND, "ok")]

    one = [silence_48k_stereo(0.5), speech_48k_stereo(SENTENCE_1), silence_48k_stereo(1.0)]
    audio = np.concatenate(one * 3)
    rec = Recorder()
    session = rec.session(FailingAfterFirst(), pool=DecodePool(), interim_seconds=100.0)
    for frame in frames_48k(audio):
        session.push_frame(frame)
    segments = session.stop(timeout=10.0)
    assert session.transcription_pending
    assert len(segments) == 1 and session.pending_since == pytest.approx(segments[0].end, abs=0.05)
    assert "speech service unreachable" in (session.last_error or "")
    assert len(rec.stored()) == round(len(audio) / 3) * 2
