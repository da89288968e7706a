"""Choosing and loading the speech engine, once per process, and the one path every recording takes
(upload, `synapse transcribe`, re-transcription of stored audio): decode -> engine.transcribe.

Default engine: `whisper` when a Whisper model resolves (SYNAPSE_WHISPER_MODEL or the packaged tiny.en),
else `sphinx`. SYNAPSE_SPEECH_ENGINE, or a name passed in, picks one explicitly (and fails if it cannot load).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.config import Settings, get_settings
from core.speech.audio import MB, AudioSource, decode, seconds
from core.speech.base import EngineInfo, EngineUnavailable, Segment, SpeechError, Transcriber

log = logging.getLogger(__name__)

ENGINE_NAMES = ("whisper", "sphinx", "google")
DEFAULT_MAX_SECONDS = 4 * 3600.0  # no consultation recording is longer than this

_lock = threading.Lock()
_engines: dict[tuple, Transcriber] = {}
_fallback_reasons: dict[tuple, str] = {}


def speech_dir(settings: Settings) -> Path:
    """Where the speech engines keep what they build or download (language model, Whisper models)."""
    return Path(settings.data_dir) / "speech"


def _key(name: str | None, settings: Settings) -> tuple:
    """Engines are cached per name and per the settings they were loaded with."""
    return (name, settings.whisper_model, settings.whisper_threads, str(Path(settings.data_dir).resolve()),
            settings.google_speech_endpoint)


def _load(name: str, settings: Settings) -> Transcriber:
    if name == "whisper":
        from core.speech import whisper

        source = whisper.resolve_model(settings.whisper_model, settings.data_dir)
        return whisper.WhisperEngine(source, threads=settings.whisper_threads)
    if name == "sphinx":
        from core.speech.sphinx import SphinxEngine

        return SphinxEngine(speech_dir(settings) / "sphinx")
    if name == "google":
        from core.speech.google import GoogleSpeechEngine

        _google_configured(settings)
        return GoogleSpeechEngine(settings.google_speech_endpoint)
    raise SpeechError(f"Unknown speech engine {name!r}; choose one of: {', '.join(ENGINE_NAMES)}.")


def _google_configured(settings: Settings) -> None:
    if settings.google_speech_endpoint:
        return
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if not path:
        raise EngineUnavailable("Google Speech is not configured: set GOOGLE_APPLICATION_CREDENTIALS to a "
                                "service-account key file.")
    if not Path(path).is_file():
        raise EngineUnavailable(f"GOOGLE_APPLICATION_CREDENTIALS points to {path}, which is not a file.")


def load_engine(name: str | None = None, settings: Settings | None = None) -> Transcriber:
    """The engine to use, loaded once per process (thread-safe; later calls return the same object).
    name None means SYNAPSE_SPEECH_ENGINE, else the default (whisper, falling back to sphinx).
    Raises EngineUnavailable when the engine asked for cannot be loaded, with what to do about it."""
    settings = settings or get_settings()
    requested = name or settings.speech_engine
    if requested is not None and requested not in ENGINE_NAMES:
        raise SpeechError(f"Unknown speech engine {requested!r}; choose one of: {', '.join(ENGINE_NAMES)}.")
    with _lock:
        if requested is not None:
            return _load_cached(requested, settings)
        if _key(None, settings) in _fallback_reasons:  # decided once per process: do not retry every call
            return _load_cached("sphinx", settings)
        try:
            return _load_cached("whisper", settings)
        except EngineUnavailable as exc:
            log.warning("Whisper is not available (%s); using the sphinx engine.", exc)
            _fallback_reasons[_key(None, settings)] = str(exc)
            return _load_cached("sphinx", settings)


def _load_cached(name: str, settings: Settings) -> Transcriber:
    key = _key(name, settings)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = _load(name, settings)
    return engine


def reset_engines() -> None:
    """Forget loaded engines (tests that change settings)."""
    with _lock:
        _engines.clear()
        _fallback_reasons.clear()


def _check(name: str, settings: Settings) -> str:
    """Whether an engine could load here, without loading it: a description, or EngineUnavailable."""
    if name == "whisper":
        from core.speech import whisper

        source = whisper.resolve_model(settings.whisper_model, settings.data_dir, download=False)
        return source.label
    if name == "sphinx":
        try:
            import pocketsphinx  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable("pocketsphinx is not installed.") from exc
        return "pocketsphinx en-us + clinical language model"
    if name == "google":
        _google_configured(settings)
        try:
            import google.cloud.speech_v1  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable("google-cloud-speech is not installed.") from exc
        return f"Google Cloud Speech-to-Text at {settings.google_speech_endpoint or 'speech.googleapis.com'}"
    raise SpeechError(f"Unknown speech engine {name!r}")


@dataclass(frozen=True)
class EngineCheck:
    name: str
    available: bool
    detail: str  # the model, or why it is unavailable


def check_engines(settings: Settings | None = None) -> list[EngineCheck]:
    settings = settings or get_settings()
    checks = []
    for name in ENGINE_NAMES:
        try:
            checks.append(EngineCheck(name, True, _check(name, settings)))
        except EngineUnavailable as exc:
            checks.append(EngineCheck(name, False, str(exc)))
    return checks


def available_engines(settings: Settings | None = None) -> list[str]:
    """Names of the engines that can be used on this machine, in order of preference."""
    return [check.name for check in check_engines(settings) if check.available]


def default_engine_name(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.speech_engine:
        return settings.speech_engine
    return "whisper" if "whisper" in available_engines(settings) else "sphinx"


def engine_status(settings: Settings | None = None) -> list[str]:
    """A few lines for `synapse status` and the admin page: the active engine, its model and languages,
    and what the other engines need. Reports a loaded engine if there is one, else what would load."""
    settings = settings or get_settings()
    with _lock:
        reason = _fallback_reasons.get(_key(None, settings))
        active_name = settings.speech_engine or ("sphinx" if reason else "whisper")
        loaded = _engines.get(_key(active_name, settings))
    lines = []
    checks = {check.name: check for check in check_engines(settings)}
    if loaded is not None:
        info: EngineInfo = loaded.info
        languages = ", ".join(info.languages[:8]) + (" ..." if len(info.languages) > 8 else "")
        lines.append(f"speech engine: {info.name} (loaded) - {info.model}; languages: {languages}")
        if info.accuracy_note:
            lines.append(f"  note: {info.accuracy_note}")
        if reason:
            lines.append(f"  whisper unavailable: {reason}")
        active = info.name
    else:
        active = default_engine_name(settings)
        check = checks[active]
        state = "will load" if check.available else "UNAVAILABLE"
        lines.append(f"speech engine: {active} ({state}) - {check.detail}")
        if active == "sphinx" and not settings.speech_engine and not checks["whisper"].available:
            lines.append(f"  whisper unavailable: {checks['whisper'].detail}")
    others = [f"{c.name}: " + ("available" if c.available else f"unavailable ({c.detail})")
              for n, c in checks.items() if n != active]
    lines.append("  other engines: " + "; ".join(others))
    return lines


@dataclass(frozen=True)
class Transcript:
    segments: list[Segment]
    engine: EngineInfo
    audio_seconds: float
    decode_seconds: float
    transcribe_seconds: float

    @property
    def text(self) -> str:
        return "\n".join(segment.text for segment in self.segments)


def transcribe_recording(source: AudioSource, *, engine: str | Transcriber | None = None,
                         language: str | None = None, progress: Callable[[float], None] | None = None,
                         settings: Settings | None = None, max_seconds: float | None = DEFAULT_MAX_SECONDS
                         ) -> Transcript:
    """Transcribe an uploaded or stored recording: decode (size limit SYNAPSE_MAX_UPLOAD_MB) to PCM16K, then
    the engine. progress gets 0..1 (decoding is the first 10 %). Raises SpeechError for bad audio or a
    failing engine, EngineUnavailable when the engine cannot load."""
    settings = settings or get_settings()
    transcriber = engine if engine is not None and not isinstance(engine, str) else load_engine(engine, settings)
    started = time.perf_counter()
    pcm = decode(source, max_bytes=settings.max_upload_mb * MB, max_seconds=max_seconds,
                 progress=(lambda f: progress(0.1 * f)) if progress else None)
    decoded = time.perf_counter()
    segments = transcriber.transcribe(pcm, language=language,
                                      progress=(lambda f: progress(0.1 + 0.9 * f)) if progress else None)
    return Transcript(segments=segments, engine=transcriber.info, audio_seconds=seconds(pcm),
                      decode_seconds=decoded - started, transcribe_seconds=time.perf_counter() - decoded)
