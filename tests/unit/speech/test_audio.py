"""Decoding uploads to PCM16K with PyAV: every accepted format, live-style frames, and files that must be
refused with a clear message. The recordings are made here, in tmp_path, with PyAV, sox and espeak-ng."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import wave
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from core.speech.audio import MB, PcmResampler, decode, seconds, wav_bytes, write_wav
from core.speech.base import BYTES_PER_SECOND, SAMPLE_RATE, SpeechError
from tests.conftest import unavailable

TONE_HZ = 440.0
DURATION = 3.0


def tone(rate: int, channels: int, duration: float = DURATION) -> np.ndarray:
    """A 440 Hz tone, int16, shape (channels, samples)."""
    t = np.arange(int(rate * duration)) / rate
    mono = (0.4 * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.int16)
    return np.tile(mono, (channels, 1))


class _Pipe(io.RawIOBase):
    """A write-only, non-seekable sink, like a browser's MediaRecorder stream: the muxer cannot go back and
    write the duration."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
        self.data += b
        return len(b)


def encode(path: Path, container: str, codec: str, rate: int = 48000, channels: int = 2,
           duration: float = DURATION, streamed: bool = False) -> Path:
    """Encode the tone with PyAV (the same library ffmpeg-based recorders use) into path."""
    layout = "stereo" if channels == 2 else "mono"
    pipe = _Pipe() if streamed else None
    with av.open(pipe if pipe is not None else str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        samples = tone(rate, channels, duration)
        frame = av.AudioFrame.from_ndarray(samples.T.reshape(1, -1).copy(), format="s16", layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        resampler = av.AudioResampler(format=stream.format.name, layout=layout, rate=rate,
                                      frame_size=stream.codec_context.frame_size or None)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    if pipe is not None:
        path.write_bytes(bytes(pipe.data))
    return path


def dominant_hz(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)[int(np.argmax(spectrum))])


def assert_is_the_tone(pcm: bytes, duration: float = DURATION) -> None:
    assert len(pcm) % 2 == 0
    assert seconds(pcm) == pytest.approx(duration, abs=0.08)  # codecs pad a frame or so
    assert abs(dominant_hz(pcm) - TONE_HZ) < 3  # resampled to 16 kHz, still 440 Hz
    rms = np.sqrt(np.mean(np.frombuffer(pcm, dtype=np.int16).astype(np.float64) ** 2))
    assert 0.2 * 32767 < rms < 0.35 * 32767  # 0.4 amplitude sine: rms 0.28 (mono mix of equal channels)


FORMATS = {
    "wav": ("wav", "pcm_s16le", 44100),
    "mp3": ("mp3", "libmp3lame", 44100),
    "m4a": ("ipod", "aac", 48000),  # .m4a is MP4/AAC; ffmpeg calls that muxer "ipod"
    "webm": ("webm", "libopus", 48000),  # what browsers' MediaRecorder writes
    "ogg": ("ogg", "libopus", 48000),
}


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_each_format_decodes_to_16k_mono(tmp_path, ext):
    container, codec, rate = FORMATS[ext]
    path = encode(tmp_path / f"tone.{ext}", container, codec, rate=rate)
    from_path = decode(path)
    assert_is_the_tone(from_path)
    assert decode(path.read_bytes()) == from_path  # bytes, as an upload arrives
    with open(path, "rb") as fh:
        assert decode(fh) == from_path  # a binary file object


def test_ogg_vorbis_made_by_sox(tmp_path):
    if not shutil.which("sox"):
        unavailable("sox is not installed")
    wav = tmp_path / "tone.wav"
    write_wav(tone(SAMPLE_RATE, 1)[0].tobytes(), wav)
    ogg = tmp_path / "tone.ogg"
    subprocess.run(["sox", str(wav), str(ogg)], check=True)
    assert_is_the_tone(decode(ogg))


def test_espeak_speech_wav_at_22k(tmp_path):
    if not shutil.which("espeak-ng"):
        unavailable("espeak-ng is not installed")
    path = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), "Mood is low and sleep is poor."], check=True)
    with wave.open(str(path)) as w:
        expected = w.getnframes() / w.getframerate()
        assert w.getframerate() == 22050
    pcm = decode(path)
    assert seconds(pcm) == pytest.approx(expected, abs=0.02)
    assert np.abs(np.frombuffer(pcm, dtype=np.int16)).max() > 3000  # speech, not silence


def test_write_wav_round_trip(tmp_path):
    pcm = tone(SAMPLE_RATE, 1, 1.0)[0].tobytes()
    write_wav(pcm, tmp_path / "x.wav")
    with wave.open(str(tmp_path / "x.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, SAMPLE_RATE)
    assert decode(tmp_path / "x.wav") == pcm
    assert decode(wav_bytes(pcm)) == pcm


def test_live_frames_48k_stereo_to_16k_mono():
    """WebRTC delivers 20 ms frames of 960 samples, 48 kHz stereo s16 (interleaved, one plane)."""
    samples = tone(48000, 2, 2.0)
    resampler = PcmResampler()
    out = b""
    for i in range(0, samples.shape[1], 960):
        chunk = samples[:, i:i + 960]
        frame = av.AudioFrame.from_ndarray(chunk.T.reshape(1, -1).copy(), format="s16", layout="stereo")
        frame.sample_rate = 48000
        out += resampler.convert(frame)
    out += resampler.flush()
    assert len(out) == 2 * BYTES_PER_SECOND  # 2 s in, exactly 2 s out: nothing dropped
    assert abs(dominant_hz(out) - TONE_HZ) < 3


def test_progress_reaches_one(tmp_path):
    path = encode(tmp_path / "tone.mp3", "mp3", "libmp3lame", rate=44100, duration=10)
    seen: list[float] = []
    decode(path, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 3


# --- refused, with a message for people ------------------------------------------------------------------

def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(SpeechError, match="empty"):
        decode(tmp_path / "empty.wav")
    with pytest.raises(SpeechError, match="empty"):
        decode(b"")


@pytest.mark.parametrize("content", [
    b"%PDF-1.7\n" + bytes(range(256)) * 20,
    b"Patient name, phone\nAsha, 98200 00000\n" * 50,
    bytes(4096),
])
def test_not_audio(content):
    with pytest.raises(SpeechError, match="not an audio recording|no audio"):
        decode(content)


def png_image() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_an_image_has_no_audio_track():
    with pytest.raises(SpeechError, match="no audio track|not an audio recording"):
        decode(png_image())


@pytest.mark.parametrize("ext", ["wav", "mp3", "webm"])
def test_truncated_upload(tmp_path, ext):
    container, codec, rate = FORMATS[ext]
    data = encode(tmp_path / f"tone.{ext}", container, codec, rate=rate, duration=6).read_bytes()
    with pytest.raises(SpeechError, match="truncated"):
        decode(data[: len(data) // 2])


def test_truncated_m4a_is_refused(tmp_path):
    container, codec, rate = FORMATS["m4a"]
    data = encode(tmp_path / "tone.m4a", container, codec, rate=rate, duration=6).read_bytes()
    with pytest.raises(SpeechError, match="damaged or incomplete"):
        decode(data[: len(data) // 2])  # the index (moov) is at the end: nothing is readable


def test_size_limit(tmp_path):
    path = encode(tmp_path / "tone.wav", "wav", "pcm_s16le", rate=44100)
    with pytest.raises(SpeechError, match=r"The file is 0.5 MB; the limit is 98 kB"):
        decode(path, max_bytes=100_000)
    assert decode(path, max_bytes=10 * MB)


def test_duration_limit(tmp_path):
    path = encode(tmp_path / "tone.webm", "webm", "libopus", duration=6)
    with pytest.raises(SpeechError, match="limit is 0:03"):
        decode(path, max_seconds=3)
    assert seconds(decode(path, max_seconds=60)) == pytest.approx(6, abs=0.08)


def test_duration_limit_without_a_declared_duration(tmp_path):
    """A browser recording (WebM written as a stream) declares no length; the limit holds while decoding."""
    path = encode(tmp_path / "recorded.webm", "webm", "libopus", duration=5, streamed=True)
    with av.open(str(path)) as probe:
        assert probe.duration is None and probe.streams.audio[0].duration is None
    with pytest.raises(SpeechError, match="longer than the limit of 0:02"):
        decode(path, max_seconds=2)
    assert_is_the_tone(decode(path), duration=5)


def test_bytes_io_input():
    pcm = tone(SAMPLE_RATE, 1, 1.0)[0].tobytes()
    assert decode(io.BytesIO(wav_bytes(pcm))) == pcm
