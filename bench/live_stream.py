"""Live capture under a long stream and under many streams: core.speech.live.LiveSession with a real engine,
fed what streamlit-webrtc delivers (48 kHz stereo s16 av.AudioFrames of 960 samples, 20 ms each).

The audio is a loop of espeak-ng clinical sentences with pauses (about 55% speech) under faint noise.

(a) A simulated consultation of --minutes (default 30), pushed faster than real time (as fast as the session
    keeps up: the pusher waits while its backlog exceeds 5 s; --realtime paces every frame at 20 ms instead);
    the last 10 s always at real-time pace, as a consultation ends. Frames dropped = frames pushed minus
    frames' worth of audio stored (must be 0); the slowest push_frame call, and how late the paced pushes
    were (the pushing thread stands for aiortc's: an engine holding the GIL delays it).
(b) Memory: RSS sampled every 0.5 s: start, peak, end, and the growth over the last 90% of the stream.
(c) Final text after Stop: how long stop() takes to store the last chunk and finalise the last utterance;
    printed with its ratio to the 2 s target.
(d) Concurrent sessions in real time on 2 CPUs: N sessions fed by one pusher thread (like aiortc's one event
    loop) at real-time pace for --stretch seconds, sharing one decode pool as in production. N keeps up if,
    in the second half, the pusher is never more than 1 s late (an engine holding the GIL stalls it) and no
    final segment comes more than 4 s after its audio was pushed (0.3 s of voice detection, waiting for the
    decoder, decoding an utterance of up to 8 s), and every stop() finalises within 2 s with nothing pending
    and no audio lost. N doubles until it fails, then bisects.

    python -m bench.live_stream [--minutes 30] [--realtime] [--engine auto|sphinx|whisper] [--stretch 30]
"""

from __future__ import annotations

import argparse
import contextlib
import fractions
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from bench.common import app_environment, ratio, verdict
from core.speech.live import DecodePool, LiveSession

TARGET_STOP_SECONDS = 2.0
RATE, FRAME = 48_000, 960  # what aiortc delivers: 20 ms frames
FRAME_SECONDS = FRAME / RATE
MAX_BACKLOG_FAST = 5.0  # fast mode: the pusher waits while the session is this far behind
END_REALTIME_SECONDS = 10.0
STOP_INTO_SENTENCE = 2.5  # the stream ends this far into a sentence
KEEP_UP_LAG, KEEP_UP_FINAL_LAG = 1.0, 4.0
SENTENCES = [
    "Good morning, please tell me what brings you here today.",
    "I have been feeling low and tired for about two months.",
    "I wake up at three in the morning and cannot go back to sleep.",
    "Do you have any thoughts of harming yourself?",
    "No, I have never thought of ending my life.",
    "My appetite is poor and I have lost some weight.",
    "I feel anxious most days, especially at work.",
    "We will start sertraline fifty milligrams once a day after breakfast.",
    "Please come back for a review in two weeks.",
    "Call the clinic at once if you feel worse.",
]


# -- audio -------------------------------------------------------------------------------------------------

def consultation_loop(seed: int = 7) -> tuple[np.ndarray, list[int]]:
    """About a minute of 48 kHz stereo int16: the sentences with 0.6-2.5 s pauses, under -60 dBFS noise;
    and the sample offsets where the sentences start."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"live_stream needs {' and '.join(missing)} (Debian packages espeak-ng, sox)")
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    starts: list[int] = []
    with tempfile.TemporaryDirectory(prefix="synapse-bench-audio-") as tmp:
        for i, sentence in enumerate(SENTENCES):
            raw, out = Path(tmp) / f"{i}.raw.wav", Path(tmp) / f"{i}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), sentence], check=True,
                           capture_output=True)
            subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "2", "-b", "16", str(out)], check=True,
                           capture_output=True)
            starts.append(sum(len(p) for p in parts))
            with wave.open(str(out)) as w:
                parts.append(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2))
            parts.append(np.zeros((int(rng.uniform(0.6, 2.5) * RATE), 2), dtype="<i2"))
    audio = np.concatenate(parts).astype(np.int32)
    audio += rng.normal(0, 33, audio.shape).astype(np.int32)  # about -60 dBFS
    return np.clip(audio, -32768, 32767).astype("<i2"), starts


def frames_ending_mid_sentence(loop_length: int, starts: list[int], seconds: float) -> int:
    """The largest frame count up to `seconds` whose last frame falls STOP_INTO_SENTENCE s into a sentence
    (at least one sentence in), so Stop is pressed while someone is speaking: the worst case for (c)."""
    limit = round(seconds * RATE)
    best = 0
    for lap in range(limit // loop_length + 1):
        for start in starts:
            end = lap * loop_length + start + round(STOP_INTO_SENTENCE * RATE)
            if end <= limit:
                best = max(best, end)
    return max(1, best // FRAME)


def speech_share(loop: np.ndarray) -> float:
    block = RATE // 50
    energy = [np.abs(loop[i:i + block]).mean() for i in range(0, len(loop) - block, block)]
    return float(np.mean(np.array(energy) > 200))


class FrameSource:
    """Endless 960-sample frames from the loop, starting at `offset` samples, with continuous pts."""

    def __init__(self, loop: np.ndarray, offset: int = 0) -> None:
        self.loop = np.concatenate([loop, loop[:FRAME]])  # a frame may wrap around the end
        self.length = len(loop)
        self.position = offset % self.length
        self.pts = 0

    def next(self) -> av.AudioFrame:
        block = np.ascontiguousarray(self.loop[self.position:self.position + FRAME]).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout="stereo")
        frame.sample_rate = RATE
        frame.pts = self.pts
        frame.time_base = fractions.Fraction(1, RATE)
        self.pts += FRAME
        self.position = (self.position + FRAME) % self.length
        return frame


# -- measurement helpers -----------------------------------------------------------------------------------

def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@contextlib.contextmanager
def two_cpus() -> Iterator[int]:
    """Pin the process to (at most) two CPUs, like the 2-core server the target is about; restored after."""
    try:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, sorted(before)[:2])
    except (AttributeError, OSError):
        yield os.cpu_count() or 1
        return
    try:
        yield len(os.sched_getaffinity(0))
    finally:
        os.sched_setaffinity(0, before)


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


class ChunkFile:
    """Durable storage stand-in: each chunk appended to a file (the app encrypts and writes a row)."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.bytes = 0
        self.seqs: list[int] = []

    def __call__(self, seq: int, pcm: bytes) -> None:
        os.write(self.fd, pcm)
        self.bytes += len(pcm)
        self.seqs.append(seq)

    def close(self) -> None:
        os.close(self.fd)


class Finals:
    """Counts final segments; with `began` (the wall time of audio position 0 in a real-time stream) also
    how long after its audio was pushed each one came, for those ending after `lag_from` seconds."""

    def __init__(self, began: float | None = None, lag_from: float = 0.0) -> None:
        self.count = 0
        self.words = 0
        self.last = None
        self.began, self.lag_from = began, lag_from
        self.max_lag = 0.0

    def __call__(self, segment) -> None:  # type: ignore[no-untyped-def]
        self.count += 1
        self.words += len(segment.text.split())
        self.last = segment
        if self.began is not None and segment.end >= self.lag_from:
            self.max_lag = max(self.max_lag, time.perf_counter() - (self.began + segment.end))


def load_transcriber(name: str):  # type: ignore[no-untyped-def]
    from core.speech.engines import load_engine

    return load_engine(None if name == "auto" else name)


# -- (a)-(c): one long stream --------------------------------------------------------------------------------

def long_stream(transcriber, loop: np.ndarray, starts: list[int], minutes: float, realtime: bool,  # type: ignore[no-untyped-def]
                tmp: Path, tail_seconds: float = END_REALTIME_SECONDS) -> dict:
    total_frames = frames_ending_mid_sentence(len(loop), starts, minutes * 60)
    tail_frames = min(total_frames, round(tail_seconds / FRAME_SECONDS))
    store, finals = ChunkFile(tmp / "stream.pcm"), Finals()
    errors: list[str] = []
    pool = DecodePool()
    source = FrameSource(loop)
    samples: list[tuple[float, float]] = []  # (audio seconds pushed, RSS MB)
    pushed = [0]
    done = threading.Event()

    def sample_memory() -> None:
        while not done.wait(0.5):
            samples.append((pushed[0] * FRAME_SECONDS, rss_mb()))

    rss_start = rss_mb()
    session = LiveSession(transcriber, store, finals, on_error=errors.append, pool=pool)
    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    push_times = np.zeros(total_frames)
    late_max = 0.0  # how late a paced push was, at worst
    began = time.perf_counter()
    for k in range(total_frames):
        frame = source.next()
        in_tail = k >= total_frames - tail_frames
        if in_tail and k == total_frames - tail_frames:
            while session.backlog_seconds > 0.5:  # caught up, as a live session is, before the last 10 s
                time.sleep(0.01)
            tail_start, tail_k = time.perf_counter(), k
        if realtime or in_tail:
            start = began if not in_tail else tail_start
            due = start + (k - (0 if not in_tail else tail_k)) * FRAME_SECONDS
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            late_max = max(late_max, time.perf_counter() - due)
        else:
            while session.backlog_seconds > MAX_BACKLOG_FAST:
                time.sleep(0.005)
        t0 = time.perf_counter()
        session.push_frame(frame)
        push_times[k] = time.perf_counter() - t0
        pushed[0] = k + 1
    streamed = time.perf_counter() - began
    stop_began = time.perf_counter()
    session.stop(timeout=60.0)
    stop_seconds = time.perf_counter() - stop_began
    done.set()
    sampler.join()
    store.close()
    pool.close(wait=30.0)
    rss_end = rss_mb()
    audio_seconds = total_frames * FRAME_SECONDS
    expected_bytes = round(total_frames * FRAME / 3) * 2
    after_warmup = [mb for t, mb in samples if t >= 0.1 * audio_seconds] or [rss_end]
    return {
        "minutes": minutes, "realtime": realtime, "tail_seconds": tail_frames * FRAME_SECONDS,
        "frames_pushed": total_frames, "audio_seconds": audio_seconds,
        "stream_wall_seconds": streamed, "speedup": audio_seconds / streamed,
        "expected_bytes": expected_bytes, "stored_bytes": store.bytes,
        "session_stored_bytes": session.stored_bytes,
        "frames_dropped": (expected_bytes - store.bytes) / (FRAME // 3 * 2),
        "chunks": len(store.seqs), "chunks_in_order": store.seqs == list(range(len(store.seqs))),
        "push_max_ms": float(push_times.max() * 1e3), "paced_late_max_ms": late_max * 1e3,
        "push_p999_ms": float(np.quantile(push_times, 0.999) * 1e3),
        "finals": finals.count, "words": finals.words, "engine_seconds": session.engine_seconds,
        "engine_rtf": session.engine_seconds / audio_seconds,
        "pending": session.transcription_pending, "errors": errors,
        "last_segment_end": finals.last.end if finals.last else None,
        "rss_start_mb": rss_start, "rss_peak_mb": max([rss_start, rss_end] + [mb for _, mb in samples]),
        "rss_end_mb": rss_end, "rss_growth_mb": max(after_warmup) - after_warmup[0],
        "rss_samples": len(samples),
        "rss_quarters_mb": [next((mb for t, mb in samples if t >= q * audio_seconds), rss_end)
                            for q in (0.25, 0.5, 0.75)] + [rss_end],
        "stop_seconds": stop_seconds, "stop_ratio": ratio(stop_seconds, TARGET_STOP_SECONDS),
    }


# -- (d): concurrent sessions ------------------------------------------------------------------------------

def trial(transcriber, loop: np.ndarray, sessions: int, stretch: float) -> dict:  # type: ignore[no-untyped-def]
    pool = DecodePool()
    stores = [ChunkFile(Path(os.devnull)) for _ in range(sessions)]
    sources = [FrameSource(loop, offset=i * len(loop) // max(1, sessions) + i * 4_801)
               for i in range(sessions)]
    ticks = max(1, round(stretch / FRAME_SECONDS))
    max_backlog = late = 0.0
    began = time.perf_counter() + 0.05
    finals = [Finals(began, lag_from=stretch / 2) for _ in range(sessions)]
    live = [LiveSession(transcriber, stores[i], finals[i], pool=pool) for i in range(sessions)]
    for k in range(ticks):
        due = began + k * FRAME_SECONDS
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif k >= ticks // 2:
            late = max(late, -delay)
        for session, source in zip(live, sources, strict=True):
            session.push_frame(source.next())
        if k >= ticks // 2 and k % 25 == 0:
            max_backlog = max(max_backlog, *(s.backlog_seconds for s in live))
    lag = late
    max_backlog = max(max_backlog, *(s.backlog_seconds for s in live))
    stop_times = [0.0] * sessions

    def stop(i: int) -> None:
        t0 = time.perf_counter()
        live[i].stop(timeout=TARGET_STOP_SECONDS)
        stop_times[i] = time.perf_counter() - t0

    stoppers = [threading.Thread(target=stop, args=(i,)) for i in range(sessions)]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()
    pool.close(wait=30.0)
    expected = round(ticks * FRAME / 3) * 2
    lost = sum(expected - s.stored_bytes for s in live)
    pending = sum(s.transcription_pending for s in live)
    final_lag = max(f.max_lag for f in finals)
    ok = lag < KEEP_UP_LAG and final_lag <= KEEP_UP_FINAL_LAG and max(stop_times) <= TARGET_STOP_SECONDS \
        and pending == 0 and lost == 0
    return {"sessions": sessions, "ok": ok, "lag": lag, "final_lag": final_lag, "max_backlog": max_backlog,
            "max_stop": max(stop_times), "pending": pending, "lost_bytes": lost,
            "finals": sum(f.count for f in finals)}


def capacity(transcriber, loop: np.ndarray, stretch: float, max_sessions: int) -> tuple[int, list[dict]]:  # type: ignore[no-untyped-def]
    trials: list[dict] = []
    good, bad, n = 0, None, 1
    while n <= max_sessions:
        result = trial(transcriber, loop, n, stretch)
        trials.append(result)
        if not result["ok"]:
            bad = n
            break
        good, n = n, n * 2
    if bad is not None:
        while bad - good > 1:
            mid = (good + bad) // 2
            result = trial(transcriber, loop, mid, stretch)
            trials.append(result)
            good, bad = (mid, bad) if result["ok"] else (good, mid)
    return good, trials


# -- the benchmark -----------------------------------------------------------------------------------------

def run(minutes: float = 30.0, realtime: bool = False, engine: str = "auto", stretch: float = 30.0,
        max_sessions: int = 32, tail_seconds: float = END_REALTIME_SECONDS) -> dict:
    with two_cpus() as cpus, app_environment() as tmp:
        transcriber = load_transcriber(engine)
        loop, starts = consultation_loop()
        stream = long_stream(transcriber, loop, starts, minutes, realtime, Path(tmp), tail_seconds)
        sustained, trials = capacity(transcriber, loop, stretch, max_sessions)
        for thread in threading.enumerate():  # a decode still running when a stop timed out
            if thread.name == "synapse-live-stop":
                thread.join(30.0)
    result = {
        "engine": transcriber.info.name, "model": transcriber.info.model, "cpus": cpus,
        "load_average": load_average(), "speech_share": speech_share(loop), "loop_seconds": len(loop) / RATE,
        "stretch": stretch, "max_sessions": max_sessions, "sustained_sessions": sustained, "trials": trials,
        **stream,
    }
    print(report(result))
    return result


def report(r: dict) -> str:
    pace = "at real-time pace" if r["realtime"] else \
        f"faster than real time ({r['speedup']:.1f}x overall; the last {r['tail_seconds']:g} s at " \
        "real-time pace)"
    lines = [
        (f"live_stream: engine {r['engine']} ({r['model']}), {r['cpus']} CPUs, load average "
         f"{r['load_average']:.1f}"),
        f"  audio: a {r['loop_seconds']:.0f} s loop of espeak-ng sentences, {r['speech_share']:.0%} speech",
        (f"  (a) {r['audio_seconds'] / 60:.1f}-minute stream ({r['frames_pushed']} frames, ending "
         f"{STOP_INTO_SENTENCE:g} s into a sentence) pushed {pace}"),
        (f"      stored {r['stored_bytes']} bytes of {r['expected_bytes']} expected in {r['chunks']} chunks "
         f"(in order: {r['chunks_in_order']}): frames dropped {r['frames_dropped']:g}"),
        (f"      push_frame on the pushing thread: slowest {r['push_max_ms']:.2f} ms, 99.9th percentile "
         f"{r['push_p999_ms']:.3f} ms; paced pushes at worst {r['paced_late_max_ms']:.0f} ms late"),
        (f"      {r['finals']} final segments, {r['words']} words; engine busy {r['engine_seconds']:.0f} s "
         f"(finals and interims: {r['engine_rtf']:.3f} s per audio second); pending: {r['pending']}"),
        (f"  (b) memory (RSS, {r['rss_samples']} samples): start {r['rss_start_mb']:.0f} MB, peak "
         f"{r['rss_peak_mb']:.0f} MB, end {r['rss_end_mb']:.0f} MB; growth over the last 90% of the stream "
         f"{r['rss_growth_mb']:+.1f} MB; at 25/50/75/100% of the stream: "
         + " / ".join(f"{mb:.0f}" for mb in r["rss_quarters_mb"]) + " MB"),
        (f"  (c) final text after Stop pressed mid-sentence: {r['stop_seconds']:.2f} s = "
         f"{r['stop_ratio']:.2f}x the "
         f"{TARGET_STOP_SECONDS:g} s target: {verdict(r['stop_seconds'] <= TARGET_STOP_SECONDS)}"),
        (f"  (d) concurrent sessions at real-time pace for {r['stretch']:g} s each, one pusher thread, one "
         "decode pool:"),
    ]
    for t in r["trials"]:
        lines.append(f"      {t['sessions']:>3} sessions: {'keeps up' if t['ok'] else 'FALLS BEHIND'}  "
                     f"(pusher at worst {t['lag']:.2f} s late, finals at worst {t['final_lag']:.1f} s after "
                     "their audio, "
                     f"worst backlog {t['max_backlog']:.1f} s, slowest stop "
                     f"{t['max_stop']:.2f} s, pending {t['pending']}, bytes lost {t['lost_bytes']})")
    capped = " (the --max-sessions cap)" if r["trials"] and all(t["ok"] for t in r["trials"]) else ""
    lines.append(f"      sustained in real time on {r['cpus']} CPUs: {r['sustained_sessions']} "
                 f"sessions{capped}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=sys.modules[__name__].__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the long stream (default: 30)")
    parser.add_argument("--realtime", action="store_true", help="push every frame at 20 ms (default: faster)")
    parser.add_argument("--engine", default="auto", choices=("auto", "sphinx", "whisper"),
                        help="speech engine (default: auto, the app's default engine)")
    parser.add_argument("--stretch", type=float, default=30.0,
                        help="seconds each concurrency trial streams (default: 30)")
    parser.add_argument("--max-sessions", type=int, default=32, help="largest N tried (default: 32)")
    args = parser.parse_args()
    if args.minutes <= 0 or args.stretch <= 0 or args.max_sessions < 1:
        parser.error("--minutes and --stretch must be positive, --max-sessions at least 1")
    run(minutes=args.minutes, realtime=args.realtime, engine=args.engine, stretch=args.stretch,
        max_sessions=args.max_sessions)


if __name__ == "__main__":
    main()
