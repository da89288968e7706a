"""The `google` engine: Google Cloud Speech-to-Text v1 over gRPC (google-cloud-speech).

Hindi, Marathi and Indian English: one primary language (the one asked for, default en-IN) plus the other two
as alternative languages, automatic punctuation, word time offsets, speaker diarization and a phrase hint of
psychiatric drug names. Files up to RECOGNIZE_LIMIT_SECONDS go through Recognize; longer ones and live audio
through StreamingRecognize (interim and final results), split into consecutive streams of at most
STREAM_LIMIT_SECONDS because Google ends a stream after about five minutes.

Credentials come from GOOGLE_APPLICATION_CREDENTIALS (or the machine's default credentials). The endpoint
can be overridden (SYNAPSE_GOOGLE_SPEECH_ENDPOINT): "host:port" on a loopback address is reached over an
insecure local channel (the tests' fake server); any other value is used as the API endpoint with TLS.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.speech.base import (
    BYTES_PER_SECOND,
    SAMPLE_RATE,
    EngineInfo,
    EngineUnavailable,
    ProgressCallback,
    Segment,
    SpeechError,
)

log = logging.getLogger(__name__)

LANGUAGES = ("en-IN", "hi-IN", "mr-IN")
_SHORT = {code.split("-")[0]: code for code in LANGUAGES}
RECOGNIZE_LIMIT_SECONDS = 55.0  # synchronous Recognize takes up to one minute of audio
STREAM_LIMIT_SECONDS = 290.0  # Google closes a streaming session after about 305 s of audio
CHUNK_BYTES = BYTES_PER_SECOND // 2  # at most 0.5 s (16 kB) of audio per streaming request
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
_DRUGS_DICT = Path(__file__).resolve().parent / "corpus" / "drugs.dict"


def language_codes(language: str | None) -> tuple[str, list[str]]:
    """(primary, alternatives): "hi" -> ("hi-IN", ["en-IN", "mr-IN"]); None -> en-IN first."""
    primary = LANGUAGES[0] if not language else _SHORT.get(language.lower(), language)
    return primary, [code for code in LANGUAGES if code.lower() != primary.lower()]


def _drug_names() -> list[str]:
    names = []
    for line in _DRUGS_DICT.read_text(encoding="utf-8").splitlines():
        word = line.split(" ", 1)[0]
        if word and "(" not in word:
            names.append(word)
    return names


def _seconds(value) -> float:  # type: ignore[no-untyped-def]
    """proto-plus gives Durations as timedelta; tolerate a raw protobuf Duration too."""
    if value is None:
        return 0.0
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(getattr(value, "seconds", 0)) + getattr(value, "nanos", 0) / 1e9


def _is_loopback(endpoint: str) -> bool:
    host = endpoint.rsplit(":", 1)[0] if endpoint.count(":") == 1 or endpoint.startswith("[") else endpoint
    return host in LOOPBACK_HOSTS


class GoogleSpeechEngine:
    """A SpeechClient and the recognition settings. Thread-safe: the client may be shared across threads."""

    def __init__(self, endpoint: str | None = None, *, timeout: float = 120.0, retry_seconds: float = 20.0,
                 diarization: bool = True, max_speakers: int = 3,
                 stream_limit_seconds: float = STREAM_LIMIT_SECONDS) -> None:
        try:
            import grpc
            from google.auth.exceptions import DefaultCredentialsError
            from google.cloud import speech_v1
            from google.cloud.speech_v1.services.speech.transports import SpeechGrpcTransport
        except ImportError as exc:
            raise EngineUnavailable("google-cloud-speech is not installed (pip install google-cloud-speech).") \
                from exc
        self._speech = speech_v1
        self.endpoint = endpoint
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.diarization = diarization
        self.max_speakers = max_speakers
        self.stream_limit_seconds = stream_limit_seconds
        self._channel = None
        try:
            if endpoint and _is_loopback(endpoint):
                self._channel = grpc.insecure_channel(endpoint)
                self.client = speech_v1.SpeechClient(transport=SpeechGrpcTransport(channel=self._channel))
            elif endpoint:
                self.client = speech_v1.SpeechClient(client_options={"api_endpoint": endpoint})
            else:
                self.client = speech_v1.SpeechClient()
        except DefaultCredentialsError as exc:
            raise EngineUnavailable(
                "Google Speech needs credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key "
                "file with the Speech-to-Text API enabled."
            ) from exc
        self._phrases = _drug_names()
        self.info = EngineInfo(
            name="google", model="Google Cloud Speech-to-Text v1 (default model)" + (
                f" at {endpoint}" if endpoint else ""),
            languages=LANGUAGES, accuracy_note="Audio is sent to Google Cloud for transcription.",
            details={"endpoint": endpoint or "speech.googleapis.com", "diarization": diarization},
        )

    # --- configuration -----------------------------------------------------------------------------------
    def recognition_config(self, language: str | None = None):  # type: ignore[no-untyped-def]
        s = self._speech
        primary, alternatives = language_codes(language)
        config = s.RecognitionConfig(
            encoding=s.RecognitionConfig.AudioEncoding.LINEAR16, sample_rate_hertz=SAMPLE_RATE,
            audio_channel_count=1, language_code=primary, alternative_language_codes=alternatives,
            enable_automatic_punctuation=True, enable_word_time_offsets=True,
            speech_contexts=[s.SpeechContext(phrases=self._phrases)],
        )
        if self.diarization:
            config.diarization_config = s.SpeakerDiarizationConfig(
                enable_speaker_diarization=True, min_speaker_count=2, max_speaker_count=self.max_speakers)
        return config

    def _retry(self):  # type: ignore[no-untyped-def]
        if self.retry_seconds <= 0:
            return None
        from google.api_core import exceptions, retry

        return retry.Retry(predicate=retry.if_exception_type(exceptions.ServiceUnavailable),
                           initial=0.2, maximum=2.0, multiplier=2.0, timeout=self.retry_seconds)

    # --- mapping -----------------------------------------------------------------------------------------
    @staticmethod
    def _segment(result, start: float, offset: float) -> Segment | None:  # type: ignore[no-untyped-def]
        if not result.alternatives:
            return None
        best = result.alternatives[0]
        text = best.transcript.strip()
        if not text:
            return None
        end = offset + _seconds(result.result_end_time)
        # With diarization the words list may hold every word so far: this result's words are the last ones.
        count = len(text.split())
        words = list(best.words)[-count:] if best.words else []
        speaker = None
        if words:
            start = offset + _seconds(words[0].start_time)
            tags = Counter(w.speaker_label or (str(w.speaker_tag) if w.speaker_tag else "") for w in words)
            tags.pop("", None)
            if tags:
                speaker = f"speaker {tags.most_common(1)[0][0]}"
        return Segment(start=round(start, 2), end=round(max(end, start), 2), text=text, speaker=speaker,
                       language=(result.language_code or None))

    def _error(self, exc: Exception) -> SpeechError:
        from google.api_core import exceptions

        if isinstance(exc, exceptions.DeadlineExceeded):
            return SpeechError("Google Speech did not answer in time (deadline exceeded); the audio is kept and "
                               "can be transcribed again.")
        if isinstance(exc, exceptions.ServiceUnavailable):
            return SpeechError("Google Speech is unavailable (network or service down); the audio is kept and "
                               "can be transcribed again.")
        if isinstance(exc, exceptions.Unauthenticated | exceptions.PermissionDenied):
            return SpeechError("Google Speech refused the credentials: check GOOGLE_APPLICATION_CREDENTIALS and "
                               "that the Speech-to-Text API is enabled for the project.")
        if isinstance(exc, exceptions.GoogleAPICallError):
            return SpeechError(f"Google Speech failed: {exc.message or type(exc).__name__}")
        return SpeechError(f"Google Speech failed: {type(exc).__name__}")

    # --- files -------------------------------------------------------------------------------------------
    def transcribe(self, pcm: bytes, *, language: str | None = None,
                   progress: ProgressCallback | None = None) -> list[Segment]:
        from google.api_core import exceptions

        pcm = pcm[: len(pcm) // 2 * 2]
        duration = len(pcm) / BYTES_PER_SECOND
        if not pcm:
            return []
        if duration > RECOGNIZE_LIMIT_SECONDS:
            chunks = (pcm[i:i + CHUNK_BYTES] for i in range(0, len(pcm), CHUNK_BYTES))
            segments = []
            for is_final, segment in self.stream(chunks, language=language, interim=False):
                if is_final:
                    segments.append(segment)
                    if progress:
                        progress(min(segment.end / duration, 0.99))
            if progress:
                progress(1.0)
            return segments
        try:
            response = self.client.recognize(
                config=self.recognition_config(language), audio=self._speech.RecognitionAudio(content=pcm),
                retry=self._retry(), timeout=self.timeout)
        except (exceptions.GoogleAPICallError, exceptions.RetryError) as exc:
            raise self._error(exc.cause if isinstance(exc, exceptions.RetryError) and exc.cause else exc) from exc
        segments = []
        start = 0.0
        for result in response.results:
            segment = self._segment(result, start, 0.0)
            if segment:
                segments.append(segment)
                start = segment.end
        if progress:
            progress(1.0)
        return segments

    # --- streaming ---------------------------------------------------------------------------------------
    def stream(self, audio: Iterable[bytes], *, language: str | None = None,
               interim: bool = True) -> Iterator[tuple[bool, Segment]]:
        """Transcribe PCM16K chunks as they come (e.g. from a live capture queue): yields (is_final, Segment)
        with interim text for the utterance in progress and final segments, times from the start of the audio.
        A new Google stream is opened every stream_limit_seconds of audio (a word may be cut there).
        Raises SpeechError if the service fails; segments yielded before that stay valid."""
        from google.api_core import exceptions

        source = _AudioSource(audio)
        streaming_config = self._speech.StreamingRecognitionConfig(
            config=self.recognition_config(language), interim_results=interim)
        budget = max(int(self.stream_limit_seconds * BYTES_PER_SECOND) // 2 * 2, CHUNK_BYTES)

        def requests():  # type: ignore[no-untyped-def]
            # The client's helper sends the configuration first, on its own; then the audio.
            used = 0
            while used < budget:
                piece = source.take(min(CHUNK_BYTES, budget - used))
                if piece is None:
                    return
                used += len(piece)
                yield self._speech.StreamingRecognizeRequest(audio_content=piece)

        while source.has_more():
            offset = source.sent / BYTES_PER_SECOND
            last_end = offset
            try:
                responses = self.client.streaming_recognize(
                    streaming_config, requests(), retry=None, timeout=self.stream_limit_seconds + self.timeout)
                for response in responses:
                    if response.error and response.error.code:
                        raise SpeechError(f"Google Speech failed: {response.error.message or response.error.code}")
                    for result in response.results:
                        segment = self._segment(result, last_end, offset)
                        if segment is None:
                            continue
                        if result.is_final:
                            last_end = segment.end
                        yield bool(result.is_final), segment
            except exceptions.GoogleAPICallError as exc:
                raise self._error(exc) from exc

    def close(self) -> None:
        try:
            self.client.transport.close()
        except Exception as exc:  # noqa: BLE001 - closing is best effort
            log.debug("closing the Speech client failed: %s", exc)


class _AudioSource:
    """PCM chunks handed out in pieces of at most n bytes, across consecutive streams."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = b""
        self.sent = 0

    def has_more(self) -> bool:
        while not self._pending:
            try:
                self._pending = bytes(next(self._chunks))
            except StopIteration:
                return False
        return True

    def take(self, n: int) -> bytes | None:
        if not self.has_more():
            return None
        piece, self._pending = self._pending[:n], self._pending[n:]
        self.sent += len(piece)
        return piece
