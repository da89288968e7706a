"""Test audio for the live pipeline: espeak-ng speech (Debian's espeak-ng + sox), turned into what
streamlit-webrtc delivers (48 kHz stereo s16 av.AudioFrames of 960 samples) or into PCM16K."""

from __future__ import annotations

import fractions
import hashlib
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import av
import numpy as np

from tests.conftest import unavailable

FRAME_SAMPLES = 960  # 20 ms at 48 kHz, as aiortc's Opus decoder delivers
WEBRTC_RATE = 48_000
_CACHE = Path(tempfile.gettempdir()) / "synapse-test-speech"


def require_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        unavailable(f"{' and '.join(missing)} not installed (Debian packages espeak-ng, sox)")


def _speech_wav(text: str, rate: int, channels: int) -> Path:
    """espeak-ng speech of `text`, converted by sox; cached by content."""
    require_tools()
    _CACHE.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{text}|{rate}|{channels}".encode()).hexdigest()[:16]
    out = _CACHE / f"{key}.wav"
    if not out.exists():
        raw = _CACHE / f"{key}.espeak.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), text], check=True,
                       capture_output=True)
        tmp = _CACHE / f"{key}.tmp.wav"
        subprocess.run(["sox", str(raw), "-r", str(rate), "-c", str(channels), "-b", "16", str(tmp)],
                       check=True, capture_output=True)
        tmp.replace(out)
        raw.unlink(missing_ok=True)
    return out


def read_wav(path: Path) -> np.ndarray:
    """int16 samples, shape (n, channels)."""
    with wave.open(str(path)) as w:
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.reshape(-1, w.getnchannels())


def speech_48k_stereo(text: str) -> np.ndarray:
    return read_wav(_speech_wav(text, WEBRTC_RATE, 2))


def speech_pcm16k(text: str) -> bytes:
    return read_wav(_speech_wav(text, 16_000, 1)).tobytes()


def silence_48k_stereo(seconds: float) -> np.ndarray:
    return np.zeros((round(seconds * WEBRTC_RATE), 2), dtype="<i2")


def sox_reference_16k_mono(stereo48: np.ndarray) -> np.ndarray:
    """An independent resampling of the same audio (sox), for comparison."""
    require_tools()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        with wave.open(str(src), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(WEBRTC_RATE)
            w.writeframes(np.ascontiguousarray(stereo48).tobytes())
        subprocess.run(["sox", str(src), "-r", "16000", "-c", "1", "-b", "16", str(dst)], check=True,
                       capture_output=True)
        return read_wav(dst)[:, 0]


def frames_48k(stereo48: np.ndarray, first_pts: int = 0) -> list[av.AudioFrame]:
    """960-sample packed s16 stereo frames with pts/time_base, like aiortc's; the last one may be short."""
    frames = []
    for i in range(0, len(stereo48), FRAME_SAMPLES):
        block = np.ascontiguousarray(stereo48[i:i + FRAME_SAMPLES]).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(block, format="s16", layout="stereo")
        frame.sample_rate = WEBRTC_RATE
        frame.pts = first_pts + i
        frame.time_base = fractions.Fraction(1, WEBRTC_RATE)
        frames.append(frame)
    return frames


def content_words(text: str) -> set[str]:
    stop = {"the", "a", "an", "and", "for", "of", "to", "in", "is", "are", "she", "he", "her", "his", "has",
            "have", "been", "with", "at", "on", "it", "was", "be", "by", "or", "no", "not", "any", "per"}
    return {w for w in "".join(c if c.isalnum() or c.isspace() else " " for c in text.lower()).split()
            if w not in stop}
