"""Audio in and out: decode any uploaded recording (WAV, MP3, M4A, WebM, OGG, ...) to PCM16K with PyAV,
convert live frames, and write PCM16K as a WAV file. Every failure is a SpeechError with a message for people."""

from __future__ import annotations

import io
import os
import struct
import wave
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import av
import av.error

from core.speech.base import BYTES_PER_SECOND, SAMPLE_RATE, SAMPLE_WIDTH, SpeechError

FORMATS = "WAV, MP3, M4A, WebM or OGG"
# A recording that decodes to less than this share of its declared length (and 0.5 s or more short) is truncated.
_TRUNCATED_SHARE = 0.97

AudioSource = bytes | bytearray | memoryview | str | os.PathLike | BinaryIO


def seconds(pcm: bytes | int) -> float:
    """Duration of a PCM16K buffer (or of that many bytes) in seconds."""
    size = pcm if isinstance(pcm, int) else len(pcm)
    return size / BYTES_PER_SECOND


def format_duration(value: float) -> str:
    minutes, secs = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class PcmResampler:
    """Any PyAV AudioFrame (e.g. WebRTC's 48 kHz stereo s16) -> PCM16K bytes. Not thread-safe: one per stream."""

    def __init__(self) -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

    def convert(self, frame: av.AudioFrame) -> bytes:
        return b"".join(f.to_ndarray().tobytes() for f in self._resampler.resample(frame))

    def flush(self) -> bytes:
        """What the resampler still holds, at the end of a stream."""
        return b"".join(f.to_ndarray().tobytes() for f in self._resampler.resample(None))


MB = 1024 * 1024  # SYNAPSE_MAX_UPLOAD_MB counts these


def _megabytes(size: int) -> str:
    if size >= 10 * MB:
        return f"{size / MB:.0f} MB"
    return f"{size / MB:.1f} MB" if size >= MB // 10 else f"{size / 1024:.0f} kB"


def _size_of(source: AudioSource) -> int | None:
    if isinstance(source, bytes | bytearray | memoryview):
        return len(source)
    if isinstance(source, str | os.PathLike):
        return os.stat(source).st_size
    size = getattr(source, "size", None)  # streamlit's UploadedFile
    if isinstance(size, int):
        return size
    try:
        here = source.tell()
        end = source.seek(0, io.SEEK_END)
        source.seek(here)
        return end - here
    except (AttributeError, OSError, ValueError):
        return None


def _wav_declared_seconds(head: bytes, total_size: int) -> float | None:
    """A RIFF/WAVE file's own statement of its length (the data chunk size), if the header has one.
    PyAV trusts the file size instead, so a cut-off WAV would otherwise pass unnoticed."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, None
    while pos + 8 <= len(head):
        chunk_id, size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if chunk_id == b"fmt " and pos + 16 <= len(head):
            byte_rate = struct.unpack("<I", head[pos + 16:pos + 20])[0] if pos + 20 <= len(head) else None
        elif chunk_id == b"data":
            if not byte_rate or size in (0, 0xFFFFFFFF) or size > 0xFFFFFFF0:  # streaming writers leave these
                return None
            if pos + 8 + size <= total_size:
                return None  # complete
            return size / byte_rate
        pos += 8 + size + (size & 1)
    return None


def decode(source: AudioSource, *, max_bytes: int | None = None, max_seconds: float | None = None,
           progress: Callable[[float], None] | None = None) -> bytes:
    """Decode a recording (bytes, a path or a binary file object) to PCM16K.

    Raises SpeechError, worded for the person who uploaded it, when the file is empty, larger than
    max_bytes, longer than max_seconds, not audio, has no audio track, or is truncated or damaged."""
    size = _size_of(source)
    if size == 0:
        raise SpeechError("The file is empty (0 bytes).")
    if max_bytes is not None and size is not None and size > max_bytes:
        raise SpeechError(f"The file is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}.")

    if isinstance(source, bytes | bytearray | memoryview):
        head = bytes(source[:4096])
        stream_in: str | BinaryIO = io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as fh:
            head = fh.read(4096)
        stream_in = str(Path(source))
    else:
        here = source.tell() if hasattr(source, "tell") else 0
        head = source.read(4096)
        source.seek(here)
        stream_in = source
    wav_seconds = _wav_declared_seconds(head, size) if size is not None else None

    try:
        container = av.open(stream_in, mode="r")
    except (av.error.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise SpeechError(f"This file is not an audio recording in a format that can be read ({FORMATS}), "
                          "or it is damaged or incomplete.") from exc
    with container:
        if not container.streams.audio:
            raise SpeechError("The file contains no audio track.")
        stream = container.streams.audio[0]
        declared = wav_seconds
        if declared is None and stream.duration and stream.time_base:
            declared = float(stream.duration * stream.time_base)
        if declared is None and container.duration:
            declared = container.duration / av.time_base
        if max_seconds is not None and declared is not None and declared > max_seconds + 1:
            raise SpeechError(f"The recording lasts {format_duration(declared)}; the limit is "
                              f"{format_duration(max_seconds)}.")
        resampler = PcmResampler()
        chunks: list[bytes] = []
        total = 0
        limit_bytes = None if max_seconds is None else int((max_seconds + 1) * BYTES_PER_SECOND)
        damaged = False
        last_report = 0.0
        try:
            for frame in container.decode(stream):
                pcm = resampler.convert(frame)
                chunks.append(pcm)
                total += len(pcm)
                if limit_bytes is not None and total > limit_bytes:
                    raise SpeechError(f"The recording is longer than the limit of {format_duration(max_seconds)}.")
                if progress and declared:
                    done = min(seconds(total) / declared, 1.0)
                    if done - last_report >= 0.01:
                        progress(done)
                        last_report = done
        except av.error.FFmpegError:
            damaged = True
        try:
            tail = resampler.flush()
        except av.error.FFmpegError:
            tail, damaged = b"", True
        chunks.append(tail)
        total += len(tail)

    got = seconds(total)
    if total == 0:
        raise SpeechError("The file contains no audio that could be decoded: it is empty, truncated or damaged.")
    if damaged:
        raise SpeechError(f"The recording is damaged: decoding stopped after {format_duration(got)}.")
    if declared is not None and got < declared * _TRUNCATED_SHARE and declared - got >= 0.5:
        raise SpeechError(f"The recording is truncated or incomplete: it should last {format_duration(declared)} "
                          f"but only {format_duration(got)} could be read.")
    if progress:
        progress(1.0)
    return b"".join(chunks)


def write_wav(pcm: bytes, destination: str | os.PathLike | BinaryIO) -> None:
    """Write PCM16K as a 16-bit mono WAV file (a path or a writable binary file object)."""
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError("PCM16K must hold whole 16-bit samples")
    with wave.open(destination if not isinstance(destination, os.PathLike) else str(destination), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm)


def wav_bytes(pcm: bytes) -> bytes:
    """PCM16K as the bytes of a WAV file (e.g. for audio playback in the browser)."""
    buffer = io.BytesIO()
    write_wav(pcm, buffer)
    return buffer.getvalue()
