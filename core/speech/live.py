"""Live capture as plain code: WebRTC audio frames in; durable PCM16K chunks, interim text and final
transcript segments out. No streamlit, no database: the caller stores chunks and saves segments.

    session = LiveSession(engine, on_chunk=store_chunk, on_final=save_segment, first_seq=0, time_offset=0.0)
    create_audio_sink_track(callback=session.push_frame, ...)  # aiortc's thread: enqueue only, never blocks
    ...  session.interim_text, session.level_dbfs, session.received_seconds   (poll from the page)
    segments = session.stop()                     # <= 2 s: last chunk stored, last utterance final

Threads. `push_frame` / `push_pcm` only put the item on an unbounded queue (no decoding, no lock). Each
session has two daemon threads, and all sessions of the process share one `DecodePool`:

- capture: resamples frames to PCM16K (`av.AudioResampler`, flushed at pause and stop so no sample is
  lost), cuts the stream into chunks of `chunk_seconds` for storage, keeps the level meter and splits
  utterances with a voice-activity detector (pocketsphinx `Endpointer`, 20 ms frames, 0.3 s window);
- storage: calls `on_chunk(seq, pcm)` in order; if it raises it retries with back-off (0.05 s doubling to
  2 s) until it succeeds, reports the error once per failure streak (`on_error`, `storage_error`) and never
  drops or reorders a chunk;
- the decode pool (default: one worker for the whole process; the engine uses the cores itself) transcribes
  each finished utterance (`on_final` per segment) and re-decodes utterances in progress about once per
  second of audio for `interim_text`. Finals of every session go before any interim, one session has at most
  one decode in flight (so its finals stay in order), interims are kept one per session (the newest audio),
  served round-robin and held to half the pool's time: under load the interim text slows down first, the
  final transcript keeps up. Each utterance goes to the engine with 0.6 s of silence either side (see
  `_padded`). `stop()` decodes the session's last finals itself, ahead of the queue.

Time. Positions count the audio this session accepted (paused audio is neither stored nor counted), so they
match the stored audio byte for byte: a segment's `start`/`end` are `time_offset + position` seconds, i.e.
relative to the consultation's stored audio when `time_offset` is what earlier sessions stored.

Chunks. Every chunk is exactly `chunk_seconds` of PCM16K except the one before a pause, the one at the end
and one flushed after `idle_flush_seconds` without input (a dropped connection: what arrived is stored at
once). Sequence numbers run on from `first_seq` without a gap. A process crash loses at most the unflushed
partial chunk (< `chunk_seconds`); the resampler holds back 1 ms (16 samples) until the next flush.

Engine failure. If the engine is None, or `transcribe` raises on a final, `transcription_pending` becomes
True and stays True: capture and storage go on, this session does not call the engine again,
`pending_since` says from which consultation second the transcript is missing, and the caller later runs
`transcribe_pcm` over the stored audio from there (pending -> done). Utterances still undecoded when
`stop`'s timeout ends are handled the same way.

GIL. Decoding is off the capture path and off aiortc's thread, but an engine whose C code holds the GIL for
a long call (pocketsphinx's process_raw/end_utt do: measured up to ~1 s on a busy 2-core machine) still
delays every Python thread, aiortc's included, for that long; faster-whisper (CTranslate2) releases it
(measured: 16 ms). Keep such calls short inside the engine.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import numpy as np
from pocketsphinx import Endpointer

from core.speech.base import BYTES_PER_SECOND, SAMPLE_RATE, Segment, SpeechError, Transcriber

log = logging.getLogger(__name__)

VAD_FRAME_SECONDS = 0.02
VAD_FRAME_BYTES = int(SAMPLE_RATE * VAD_FRAME_SECONDS) * 2  # 640
LEVEL_WINDOW_BYTES = BYTES_PER_SECOND // 10  # the level meter looks at the last 100 ms
SILENCE_DBFS = -96.0  # what level_dbfs reports for digital silence or no audio (16-bit floor)
# After a flush the resampler has produced round(samples_in * 16000 / rate) samples (measured: exact to the
# sample); before a flush it holds back up to this many output samples (its filter delay).
RESAMPLER_DELAY_SAMPLES = 16

ChunkCallback = Callable[[int, bytes], None]
SegmentCallback = Callable[[Segment], None]
MessageCallback = Callable[[str], None]

_END, _PAUSE, _ABORT = object(), object(), object()


# -- voice-activity segmentation ---------------------------------------------------------------------------

@dataclass
class _Utterance:
    id: int
    start: float  # seconds in the session's accepted audio
    pcm: bytearray = field(default_factory=bytearray)
    next_interim_bytes: int = 0

    @property
    def end(self) -> float:
        return self.start + len(self.pcm) / BYTES_PER_SECOND


class _Segmenter:
    """Splits a PCM16K stream into utterances with pocketsphinx's Endpointer.

    `feed` returns the utterances that ended; `flush` (pause, end of stream) ends the one in progress and
    restarts the detector. An utterance reaching `max_utterance_bytes` is cut there and continues as a new
    one, so no single decode grows without bound."""

    def __init__(self, max_utterance_bytes: int) -> None:
        self._max = max(VAD_FRAME_BYTES, max_utterance_bytes - max_utterance_bytes % VAD_FRAME_BYTES)
        self._ep = Endpointer(frame_length=VAD_FRAME_SECONDS, sample_rate=SAMPLE_RATE)
        if self._ep.frame_bytes != VAD_FRAME_BYTES:
            raise RuntimeError(f"pocketsphinx Endpointer wants {self._ep.frame_bytes}-byte frames")
        self._base = 0.0  # stream position where the current Endpointer started
        self._fed = 0  # bytes of the stream fed so far
        self._pending = bytearray()  # less than one VAD frame, waiting for more
        self._next_id = 0
        self._continued_at: float | None = None  # start of the piece after a forced cut
        self.current: _Utterance | None = None

    def feed(self, pcm: bytes | memoryview) -> list[_Utterance]:
        done: list[_Utterance] = []
        self._pending += pcm
        usable = len(self._pending) - len(self._pending) % VAD_FRAME_BYTES
        if usable:
            frames = bytes(self._pending[:usable])
            del self._pending[:usable]
            for i in range(0, usable, VAD_FRAME_BYTES):
                speech = self._ep.process(frames[i:i + VAD_FRAME_BYTES])
                if speech is not None:
                    self._take(speech, done)
            self._fed += usable
        return done

    def flush(self) -> list[_Utterance]:
        done: list[_Utterance] = []
        tail = bytes(self._pending)
        # end_stream returns the detector's window (~0.3 s it has not returned yet) plus the tail; it
        # rejects an empty tail (IndexError), so give it one silent sample and take that back off.
        speech = self._ep.end_stream(tail or b"\0\0")
        if speech and not tail:
            speech = speech[:-2]
        if speech:
            self._take(speech, done, ending=True)
        if self.current is not None:
            done.append(self.current)
            self.current = None
        self._fed += len(tail)
        self._pending.clear()
        self._ep = Endpointer(frame_length=VAD_FRAME_SECONDS, sample_rate=SAMPLE_RATE)
        self._base = self._fed / BYTES_PER_SECOND
        self._continued_at = None
        return done

    def _take(self, speech: bytes, done: list[_Utterance], ending: bool = False) -> None:
        if self.current is None:
            start = self._continued_at
            if start is None:
                start = self._base + self._ep.speech_start
            self.current = _Utterance(self._next_id, start)
            self._next_id += 1
            self._continued_at = None
        self.current.pcm += speech
        if ending:
            return
        if not self._ep.in_speech:
            done.append(self.current)
            self.current = None
        elif len(self.current.pcm) >= self._max:
            done.append(self.current)
            self._continued_at = self.current.end
            self.current = None


def _padded(pcm: bytes, pad_seconds: float) -> bytes:
    """The utterance as the engine gets it: with pad_seconds of silence before and after. Whisper makes
    fewer mistakes on a short clip with some silence around it (measured on 15 pairs of espeak-ng clinical
    sentences cut by this pipeline, tiny.en: WER 0.058 without, 0.065 with 0.3 s, 0.034 with 0.6 s): it
    hallucinated its vocabulary prompt ("sertraline, lorazepam, lorazepam ...") on one bare clip."""
    pad = bytes(round(pad_seconds * SAMPLE_RATE) * 2)
    return pad + pcm + pad if pad else pcm


def _placed(found: list[Segment], start: float, duration: float, time_offset: float,
            pad_seconds: float = 0.0) -> list[Segment]:
    """One utterance's engine segments (timed from the start of the padded clip) moved onto the
    consultation's timeline, clamped to the utterance."""
    out = []
    for seg in sorted(found, key=lambda s: s.start):
        text = (seg.text or "").strip()
        if not text:
            continue
        s = min(max(seg.start - pad_seconds, 0.0), duration)
        e = min(max(seg.end - pad_seconds, s), duration)
        out.append(Segment(start=round(time_offset + start + s, 3), end=round(time_offset + start + e, 3),
                           text=text, speaker=seg.speaker, language=seg.language))
    return out


def transcribe_pcm(engine: Transcriber, pcm: bytes, time_offset: float = 0.0, *, language: str | None = None,
                   progress: Callable[[float], None] | None = None,
                   max_utterance_seconds: float = 20.0, pad_seconds: float = 0.6) -> list[Segment]:
    """Transcribe stored PCM16K the way a live session does (same voice-activity cuts, one engine call per
    utterance), with timestamps `time_offset + position`. For audio stored while transcription was pending:
    `transcribe_pcm(engine, stored[round(since * 16000) * 2:], since)` with since = the consultation second
    `pending_since` minus where `stored` starts.

    Raises SpeechError (the engine's own, or wrapping any other failure)."""
    if len(pcm) % 2:
        raise ValueError("PCM16K must have an even number of bytes")
    segmenter = _Segmenter(round(max_utterance_seconds * SAMPLE_RATE) * 2)
    out: list[Segment] = []

    def decode(utterances: list[_Utterance]) -> None:
        for utt in utterances:
            try:
                found = engine.transcribe(_padded(bytes(utt.pcm), pad_seconds), language=language)
            except SpeechError:
                raise
            except Exception as exc:
                raise SpeechError(f"transcription failed: {exc}") from exc
            out.extend(_placed(found, utt.start, len(utt.pcm) / BYTES_PER_SECOND, time_offset, pad_seconds))

    step = 10 * BYTES_PER_SECOND
    view = memoryview(pcm)
    for i in range(0, len(pcm), step):
        decode(segmenter.feed(view[i:i + step]))
        if progress is not None:
            progress(min(1.0, (i + step) / len(pcm)) * 0.99)
    decode(segmenter.flush())
    if progress is not None:
        progress(1.0)
    return out


# -- the decode pool shared by sessions -------------------------------------------------------------------

@dataclass
class _Job:
    utterance_id: int
    start: float
    pcm: bytes


class DecodePool:
    """Decode workers shared by live sessions: finals first (oldest first, across sessions), then interims
    (at most one waiting per session, its newest audio, served round-robin). One session never has two
    decodes in flight, so its finals come out in order. `workers=1` suits engines that use every core
    themselves (faster-whisper with cpu_threads=2 on 2 cores) or hold the GIL (pocketsphinx).

    Interims are re-decodes of a growing utterance, so they could take every spare cycle (and, with an
    engine that holds the GIL, starve aiortc's thread): after an interim that took d seconds, no other interim
    starts for d * (1 / interim_share - 1) seconds, which keeps interims to at most `interim_share` of the
    workers' time. Finals are never held back."""

    def __init__(self, workers: int = 1, interim_share: float = 0.5) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if not 0 < interim_share <= 1:
            raise ValueError("interim_share must be in (0, 1]")
        self._interim_share = interim_share
        self._interims_from = 0.0  # monotonic time before which no interim starts
        self._cond = threading.Condition()
        self._finals: deque[tuple[LiveSession, _Job]] = deque()
        self._interims: dict[LiveSession, _Job] = {}  # insertion order = round-robin order
        self._busy: set[LiveSession] = set()
        self._busy_final: set[LiveSession] = set()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"synapse-decode-{i}", daemon=True)
                         for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def close(self, wait: float = 0.0) -> None:
        """Drop queued work and let the workers exit; wait up to `wait` seconds for a decode in progress."""
        with self._cond:
            self._closed = True
            self._finals.clear()
            self._interims.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + wait
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _submit_final(self, session: LiveSession, job: _Job) -> None:
        with self._cond:
            self._finals.append((session, job))
            session._queued_finals += 1
            session._final_backlog_bytes += len(job.pcm)
            self._interims.pop(session, None)  # its audio is being finalised
            self._cond.notify_all()

    def _submit_interim(self, session: LiveSession, job: _Job) -> None:
        with self._cond:
            self._interims[session] = job  # replacing keeps the session's place in the round
            self._cond.notify_all()

    def _cancel(self, session: LiveSession) -> None:
        with self._cond:
            kept = deque((s, j) for s, j in self._finals if s is not session)
            for s, j in self._finals:
                if s is session:
                    session._queued_finals -= 1
                    session._final_backlog_bytes -= len(j.pcm)
            self._finals = kept
            self._interims.pop(session, None)
            self._cond.notify_all()

    def _take_finals(self, session: LiveSession, timeout: float) -> list[_Job] | None:
        """Stop's fast path: once no final of the session is running (within timeout), take its queued finals
        out of the queue for the caller to decode at once, ahead of other sessions' work and without waiting
        for an interim of its own in progress. None if a final was still running at the timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while session in self._busy_final:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
            taken = [job for s, job in self._finals if s is session]
            self._finals = deque((s, j) for s, j in self._finals if s is not session)
            session._queued_finals -= len(taken)
            self._interims.pop(session, None)
            return taken

    def _wait_idle(self, session: LiveSession, timeout: float) -> bool:
        """True once the session has no final waiting or running (within timeout seconds)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while session._queued_finals > 0 or session in self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _pick(self) -> tuple[LiveSession, _Job, bool] | None:
        for i, (session, job) in enumerate(self._finals):
            if session not in self._busy:
                del self._finals[i]
                return session, job, True
        if time.monotonic() < self._interims_from:
            return None
        for session, job in self._interims.items():
            if session not in self._busy:
                del self._interims[session]
                return session, job, False
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                while (picked := self._pick()) is None:
                    if self._closed:
                        return
                    held_back = self._interims and time.monotonic() < self._interims_from
                    self._cond.wait(max(0.001, self._interims_from - time.monotonic()) if held_back else None)
                session, job, final = picked
                self._busy.add(session)
                if final:
                    self._busy_final.add(session)
            began = time.monotonic()
            try:
                if final:
                    session._decode_final(job)
                else:
                    session._decode_interim(job)
            except Exception:
                log.exception("live decode failed")
            finally:
                with self._cond:
                    self._busy.discard(session)
                    self._busy_final.discard(session)
                    if final:
                        session._queued_finals -= 1
                        session._final_backlog_bytes -= len(job.pcm)
                    else:
                        took = time.monotonic() - began
                        self._interims_from = max(self._interims_from,
                                                  time.monotonic() + took * (1 / self._interim_share - 1))
                    self._cond.notify_all()


_default_pool: DecodePool | None = None
_default_pool_lock = threading.Lock()


def default_pool() -> DecodePool:
    """The process-wide pool (one worker), created on first use."""
    global _default_pool
    with _default_pool_lock:
        if _default_pool is None:
            _default_pool = DecodePool(workers=1)
        return _default_pool


# -- the session -------------------------------------------------------------------------------------------

class LiveSession:
    """One live capture into one consultation. Create it on the page (keep it in st.session_state), hand
    `push_frame` to streamlit-webrtc, poll the properties, call `stop()` on Stop.

    Callbacks run on worker threads (never the caller's or aiortc's): `on_chunk(seq, pcm)` on the session's
    storage thread; `on_final(segment)` and `on_interim(text)` on a decode-pool worker; `on_error(message)`
    on either. They must be quick and must not call `stop()`. No callback runs after `stop()` or `abort()`
    returns, except `on_chunk` for audio that could not be stored in time (see `stop`).

    engine: a loaded Transcriber (thread-safe, shared), or None when none is available (pending at once).
    on_chunk(seq, pcm): store PCM16K durably (encrypt, write); raising means "not stored, try again".
    on_final(segment): a final segment, timestamps on the consultation's timeline; saved as it comes.
    chunk_seconds: chunk length (the most a crash can lose). first_seq, time_offset: where a resumed
    consultation continues (next chunk seq; seconds already stored). on_error(message): errors for people.
    on_interim(text): each new interim text (the page may poll `interim_text` instead). language: passed to
    the engine. interim_seconds: audio between interim re-decodes. max_utterance_seconds: an utterance is cut
    there, which bounds the decode Stop must wait for (8 s x the engine's real-time factor).
    idle_flush_seconds: input gap after which the partial chunk is stored. pad_seconds: silence added around
    each utterance handed to the engine (see _padded). pool: the DecodePool (default: the process-wide
    one)."""

    def __init__(self, engine: Transcriber | None, on_chunk: ChunkCallback, on_final: SegmentCallback, *,
                 chunk_seconds: float = 4.0, first_seq: int = 0, time_offset: float = 0.0,
                 on_error: MessageCallback | None = None, on_interim: MessageCallback | None = None,
                 language: str | None = None, interim_seconds: float = 1.0,
                 max_utterance_seconds: float = 8.0, idle_flush_seconds: float = 1.0,
                 pad_seconds: float = 0.6, pool: DecodePool | None = None) -> None:
        if min(chunk_seconds, interim_seconds, max_utterance_seconds, idle_flush_seconds) <= 0:
            raise ValueError("chunk_seconds, interim_seconds, max_utterance_seconds and idle_flush_seconds "
                             "must be positive")
        self._engine = engine
        self._on_chunk, self._on_final = on_chunk, on_final
        self._on_error, self._on_interim = on_error, on_interim
        self._language = language
        self._chunk_bytes = max(2, round(chunk_seconds * SAMPLE_RATE) * 2)
        self._interim_bytes = max(VAD_FRAME_BYTES, round(interim_seconds * SAMPLE_RATE) * 2)
        self._idle_flush = idle_flush_seconds
        self._pad_seconds = max(0.0, pad_seconds)
        self.time_offset = float(time_offset)
        self.first_seq = int(first_seq)
        self._pool = (pool or default_pool()) if engine is not None else None

        # producer side (aiortc's thread / the caller's)
        self._inq: queue.SimpleQueue = queue.SimpleQueue()
        self._paused = False
        self._ended = False
        self._received_seconds = 0.0
        # capture thread
        self._resampler: av.AudioResampler | None = None
        self._resampler_key: tuple | None = None
        self._segmenter = _Segmenter(round(max_utterance_seconds * SAMPLE_RATE) * 2)
        self._chunk = bytearray()
        self._seq = self.first_seq
        self._accepted_bytes = 0
        self._level_tail = b""
        self._dropped_frames = 0
        # storage thread
        self._storeq: queue.SimpleQueue = queue.SimpleQueue()
        self._stored_bytes = 0
        self._next_seq = self.first_seq
        self._storage_error: str | None = None
        self._aborted = threading.Event()
        # decoding (the pool's workers); the pool's lock guards _queued_finals and _final_backlog_bytes
        self._lock = threading.Lock()
        self._queued_finals = 0
        self._final_backlog_bytes = 0
        self._usable = engine is not None
        self._closed = False
        self._pending_since: float | None = None if engine is not None else self.time_offset
        self._transcribed_until = 0.0
        self._engine_seconds = 0.0
        self._interim: tuple[int, str] = (-1, "")
        self._last_final_id = -1
        self._segments: list[Segment] = []
        self._last_error: str | None = None
        if engine is None:
            self._last_error = "no speech engine is available: the audio is stored, to be transcribed later"

        self._capture = threading.Thread(target=self._guarded, args=(self._capture_loop,),
                                         name="synapse-live-capture", daemon=True)
        self._storage = threading.Thread(target=self._guarded, args=(self._store_loop,),
                                         name="synapse-live-store", daemon=True)
        self._capture.start()
        self._storage.start()

    # -- input: one producer at a time (push_frame runs on aiortc's event loop) -----------------------------

    def push_frame(self, frame: av.AudioFrame) -> None:
        """Accept one WebRTC audio frame (any rate/layout/format; normally 48 kHz stereo s16, 960 samples).
        Only enqueues: never blocks, decodes or takes a lock. Ignored while paused and after end/stop."""
        if self._paused or self._ended:
            return
        self._received_seconds += frame.samples / frame.sample_rate
        self._inq.put(frame)

    def push_pcm(self, pcm16k: bytes) -> None:
        """Accept PCM16K (16 kHz mono s16le) directly (tests, uploads, resumed audio); as push_frame."""
        if len(pcm16k) % 2:
            raise ValueError("PCM16K must have an even number of bytes")
        if self._paused or self._ended or not pcm16k:
            return
        self._received_seconds += len(pcm16k) / BYTES_PER_SECOND
        self._inq.put(bytes(pcm16k))

    def pause(self) -> None:
        """Stop accepting audio: what arrives while paused is neither stored nor transcribed. What came
        before is flushed: its last partial chunk stored, its utterance in progress finalised."""
        if not self._paused and not self._ended:
            self._paused = True
            self._inq.put(_PAUSE)

    def resume(self) -> None:
        self._paused = False

    def end(self) -> None:
        """No more input; the workers flush everything in the background. Never blocks, so it is safe on
        aiortc's thread (e.g. as the sink track's on_ended). stop() is end() plus waiting."""
        if not self._ended:
            self._ended = True
            self._inq.put(_END)

    def stop(self, timeout: float = 2.0) -> list[Segment]:
        """End the capture and wait at most `timeout` seconds while the resampler, the last partial chunk
        (on_chunk) and the utterance in progress (on_final) are flushed. Returns every final segment of the
        session in time order. Idempotent.

        The session's last finals are decoded right here (on a helper thread), ahead of other sessions' queued
        work and without waiting for an interim decode of its own still running. Utterances still undecoded
        when the timeout ends are dropped from live decoding and make the session `transcription_pending`
        from `pending_since`. Audio not yet stored (on_chunk still failing, or a huge input backlog) goes on
        being processed and retried in the background, never dropped: see `unstored_seconds` and
        `storage_error`."""
        deadline = time.monotonic() + max(0.0, timeout)
        self.end()
        self._capture.join(max(0.0, deadline - time.monotonic()))
        decoded = self._pool is None or not self._usable
        if self._pool is not None and not self._capture.is_alive():
            jobs = self._pool._take_finals(self, max(0.0, deadline - time.monotonic()))
            if jobs is not None:
                for job in jobs:
                    self._final_backlog_bytes -= len(job.pcm)  # now this thread's work, not the pool's
                last = threading.Thread(target=self._decode_finals, args=(jobs,), name="synapse-live-stop",
                                        daemon=True)
                last.start()
                last.join(max(0.0, deadline - time.monotonic()))
                decoded = not last.is_alive()
        self._storage.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._usable and not decoded:
                    self._mark_pending()
                    self._report("transcription did not finish within the stop timeout; the rest of the "
                                 "audio is stored and will be transcribed later")
                self._usable = False
        if self._pool is not None:
            self._pool._cancel(self)
        return list(self._segments)

    def _decode_finals(self, jobs: list[_Job]) -> None:
        for job in jobs:
            self._decode_final(job)

    def abort(self) -> None:
        """End at once without flushing anything, as a crash would (tests; discarding a session). Chunks not
        yet handed to on_chunk are lost; no callback runs after this returns."""
        self._ended = True
        self._aborted.set()
        with self._lock:
            self._closed = True
            self._usable = False
        self._inq.put(_ABORT)
        self._storeq.put(_ABORT)
        if self._pool is not None:
            self._pool._cancel(self)
            self._pool._wait_idle(self, 5.0)
        for thread in (self._capture, self._storage):
            if thread is not threading.current_thread():
                thread.join(5.0)

    # -- what the page shows -------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def interim_text(self) -> str:
        """Text of the utterance in progress (re-decoded about once a second); "" between utterances."""
        return self._interim[1]

    @property
    def level_dbfs(self) -> float:
        """RMS level of the last ~100 ms of accepted audio in dBFS; SILENCE_DBFS (-96) for none or silence."""
        tail = self._level_tail
        if len(tail) < 2:
            return SILENCE_DBFS
        samples = np.frombuffer(tail, dtype="<i2").astype(np.float64)
        rms = math.sqrt(float(np.mean(samples * samples)))
        return SILENCE_DBFS if rms < 1.0 else max(SILENCE_DBFS, 20 * math.log10(rms / 32768.0))

    @property
    def received_seconds(self) -> float:
        """Audio accepted by this session (paused audio not counted)."""
        return self._received_seconds

    @property
    def stored_seconds(self) -> float:
        """Audio this session has handed to on_chunk successfully."""
        return self._stored_bytes / BYTES_PER_SECOND

    @property
    def stored_bytes(self) -> int:
        return self._stored_bytes

    @property
    def next_seq(self) -> int:
        """The seq the next stored chunk gets. A resumed session: LiveSession(..., first_seq=next_seq,
        time_offset=time_offset + stored_seconds) (or the same from the stored chunks)."""
        return self._next_seq

    @property
    def unstored_seconds(self) -> float:
        """Audio accepted but not (yet) stored: the partial chunk, queued chunks, a storage failure."""
        return max(0.0, self._received_seconds - self._stored_bytes / BYTES_PER_SECOND)

    @property
    def storage_error(self) -> str | None:
        """The current storage failure (on_chunk raising, being retried); None while storing works."""
        return self._storage_error

    @property
    def transcription_pending(self) -> bool:
        """True when the engine is missing or failed (or stop timed out): capture and storage go on, and the
        transcript from `pending_since` on must be made later from the stored audio."""
        return self._pending_since is not None

    @property
    def pending_since(self) -> float | None:
        """Consultation second from which the transcript is missing (end of the last final utterance)."""
        return self._pending_since

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def segments(self) -> list[Segment]:
        with self._lock:
            return list(self._segments)

    @property
    def backlog_seconds(self) -> float:
        """Audio received but not processed yet: queued frames plus utterances waiting for their final
        decode. Stays near zero while the session keeps up with real time."""
        unprocessed = self._received_seconds - self._accepted_bytes / BYTES_PER_SECOND
        return max(0.0, unprocessed) + self._final_backlog_bytes / BYTES_PER_SECOND

    @property
    def engine_seconds(self) -> float:
        """Wall time this session spent inside engine.transcribe (finals and interims)."""
        return self._engine_seconds

    @property
    def dropped_frames(self) -> int:
        """Frames the resampler rejected (corrupt input): 0 in normal operation."""
        return self._dropped_frames

    # -- internals -----------------------------------------------------------------------------------------

    def _guarded(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except Exception as exc:
            log.exception("live session worker %s failed", threading.current_thread().name)
            self._report(f"internal error in live capture ({type(exc).__name__}); see the server log")

    def _report(self, message: str) -> None:
        self._last_error = message
        if self._on_error is not None:
            try:
                self._on_error(message)
            except Exception:
                log.exception("on_error callback failed")

    # capture thread

    def _capture_loop(self) -> None:
        idle_flushed_at = -1
        try:
            while True:
                try:
                    item = self._inq.get(timeout=self._idle_flush)
                except queue.Empty:
                    if self._chunk and idle_flushed_at != self._accepted_bytes:  # input gap: store now
                        idle_flushed_at = self._accepted_bytes
                        self._flush_chunk()
                    continue
                if item is _ABORT:
                    return
                try:
                    self._capture_one(item)
                except Exception as exc:
                    log.exception("live capture could not process an item")
                    self._dropped_frames += 1
                    self._report(f"an audio frame could not be processed and was skipped ({exc})")
                if item is _END:
                    return
        finally:
            self._storeq.put(_END)

    def _capture_one(self, item: object) -> None:
        if item is _END or item is _PAUSE:
            self._accept(self._flush_resampler())
            if self._usable:
                self._segmenting(self._segmenter.flush)
            self._flush_chunk()
            self._level_tail = b""
        elif isinstance(item, bytes):
            self._accept(self._flush_resampler() + item)
        else:
            self._accept(self._resample(item))  # type: ignore[arg-type]

    def _resample(self, frame: av.AudioFrame) -> bytes:
        key = (frame.format.name, frame.layout.name, frame.sample_rate)
        head = b""
        if self._resampler is None or key != self._resampler_key:
            head = self._flush_resampler()  # a format change mid-stream: finish the old one first
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            self._resampler_key = key
        try:
            out = self._resampler.resample(frame)
        except (ValueError, av.FFmpegError) as exc:
            self._resampler = None
            self._dropped_frames += 1
            self._report(f"an audio frame could not be converted and was skipped: {exc}")
            return head
        return head + b"".join(bytes(o.planes[0])[: o.samples * 2] for o in out)

    def _flush_resampler(self) -> bytes:
        if self._resampler is None:
            return b""
        out = self._resampler.resample(None)
        self._resampler = None
        return b"".join(bytes(o.planes[0])[: o.samples * 2] for o in out)

    def _accept(self, pcm: bytes) -> None:
        if not pcm:
            return
        self._accepted_bytes += len(pcm)
        self._level_tail = (self._level_tail + pcm)[-LEVEL_WINDOW_BYTES:]
        self._chunk += pcm
        while len(self._chunk) >= self._chunk_bytes:
            self._store(bytes(self._chunk[: self._chunk_bytes]))
            del self._chunk[: self._chunk_bytes]
        if self._usable:  # no engine (or it failed): nothing to segment for
            self._segmenting(self._segmenter.feed, pcm)

    def _segmenting(self, step: Callable[..., list[_Utterance]], *args: bytes) -> None:
        """Run the voice-activity detector; if it ever fails, transcription stops (pending) but capture and
        storage go on."""
        try:
            self._finals_out(step(*args))
        except Exception as exc:
            log.exception("voice-activity detection failed in a live session")
            with self._lock:
                if not self._closed and self._usable:
                    self._usable = False
                    self._mark_pending()
                    self._report(f"live transcription stopped ({type(exc).__name__}: {exc}); the audio is "
                                 "still being stored and will be transcribed later")
            return
        utt = self._segmenter.current
        if utt is not None and len(utt.pcm) >= (utt.next_interim_bytes or self._interim_bytes // 2):
            utt.next_interim_bytes = len(utt.pcm) + self._interim_bytes
            if self._pool is not None and self._usable:
                self._pool._submit_interim(self, _Job(utt.id, utt.start, bytes(utt.pcm)))

    def _flush_chunk(self) -> None:
        if self._chunk:
            self._store(bytes(self._chunk))
            self._chunk.clear()

    def _store(self, data: bytes) -> None:
        self._storeq.put((self._seq, data))
        self._seq += 1

    def _finals_out(self, utterances: list[_Utterance]) -> None:
        for utt in utterances:
            if self._pool is None or not self._usable:
                return
            self._pool._submit_final(self, _Job(utt.id, utt.start, bytes(utt.pcm)))

    # storage thread

    def _store_loop(self) -> None:
        while True:
            item = self._storeq.get()
            if item is _END or item is _ABORT:
                return
            seq, data = item
            delay, failing = 0.05, False
            while not self._aborted.is_set():
                try:
                    self._on_chunk(seq, data)
                    break
                except Exception as exc:  # noqa: BLE001 - whatever storage raised: keep the audio, retry
                    log.warning("storing live audio chunk %s failed: %s", seq, exc)
                    message = f"storing audio failed ({exc}); retrying, nothing is dropped"
                    self._storage_error = message
                    if not failing:
                        failing = True
                        self._report(message)
                    self._aborted.wait(delay)
                    delay = min(delay * 2, 2.0)
            else:
                return  # aborted while retrying: as after a crash, this chunk was not stored
            self._stored_bytes += len(data)
            self._next_seq = seq + 1
            if failing:
                self._storage_error = None

    # decode-pool workers (one job of this session at a time)

    def _transcribe(self, job: _Job, final: bool) -> list[Segment] | None:
        """The engine's segments, or None if it failed. A failed final makes the session pending for good;
        a failed interim costs only that interim (the final decides)."""
        began = time.perf_counter()
        try:
            return self._engine.transcribe(_padded(job.pcm, self._pad_seconds),  # type: ignore[union-attr]
                                           language=self._language)
        except Exception as exc:  # noqa: BLE001 - any engine failure: capture goes on, transcription pending
            log.warning("speech engine failed in a live session (%s): %s", "final" if final else "interim",
                        exc)
            if final:
                with self._lock:
                    if not self._closed:
                        self._usable = False
                        self._mark_pending()
                        self._interim = (-1, "")
                        self._report(f"transcription failed ({exc}); the audio is still being stored and "
                                     "will be transcribed later")
            return None
        finally:
            self._engine_seconds += time.perf_counter() - began

    def _decode_final(self, job: _Job) -> None:
        found = self._transcribe(job, True) if self._usable else None
        placed = [] if found is None else _placed(found, job.start, len(job.pcm) / BYTES_PER_SECOND,
                                                  self.time_offset, self._pad_seconds)
        with self._lock:
            if self._closed:
                return
            if found is None:
                self._mark_pending()
                return
            self._transcribed_until = job.start + len(job.pcm) / BYTES_PER_SECOND
            self._last_final_id = job.utterance_id
            if self._interim[0] <= job.utterance_id:
                self._interim = (-1, "")
            self._segments.extend(placed)
            for seg in placed:
                try:
                    self._on_final(seg)
                except Exception as exc:
                    log.exception("on_final callback failed")
                    self._report(f"saving a transcript segment failed ({exc}); it is kept until stop")

    def _decode_interim(self, job: _Job) -> None:
        if not self._usable or job.utterance_id <= self._last_final_id:
            return
        found = self._transcribe(job, False)
        if found is None:
            return
        text = " ".join(s.text.strip() for s in found if s.text and s.text.strip())
        with self._lock:
            if self._closed or job.utterance_id <= self._last_final_id:
                return
            self._interim = (job.utterance_id, text)
            if self._on_interim is not None:
                try:
                    self._on_interim(text)
                except Exception:
                    log.exception("on_interim callback failed")

    def _mark_pending(self) -> None:
        """The transcript is missing from the end of the last final utterance on (caller holds _lock)."""
        if self._pending_since is None:
            self._pending_since = round(self.time_offset + self._transcribed_until, 3)
