"""A local fake of Google Cloud Speech-to-Text v1 that speaks its real gRPC protocol
(google.cloud.speech.v1.Speech: Recognize and StreamingRecognize), for driving the real SpeechClient.

It records every request, answers with scripted results, and can be told to fail (any status code, e.g.
UNAVAILABLE), to answer too late (deadline tests), to abort a stream after some responses, or be stopped
while a stream is open.

    with FakeSpeechServer() as fake:
        fake.recognize_results.append([result("Hello.", end=1.2)])
        engine = GoogleSpeechEngine(fake.address)
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import Self

import grpc
from google.cloud.speech_v1.types import cloud_speech as speech

SERVICE = "google.cloud.speech.v1.Speech"


def result(transcript: str, *, end: float, is_final: bool = True, words: list[tuple[str, float, float, int]] = (),
           language: str = "en-in", stability: float = 0.0) -> speech.StreamingRecognitionResult:
    """A scripted result; words are (word, start s, end s, speaker tag). For Recognize, only the fields a
    SpeechRecognitionResult has are used."""
    alternative = speech.SpeechRecognitionAlternative(
        transcript=transcript, confidence=0.9 if is_final else 0.0,
        words=[speech.WordInfo(word=w, start_time=dt.timedelta(seconds=s), end_time=dt.timedelta(seconds=e),
                               speaker_tag=tag) for w, s, e, tag in words])
    return speech.StreamingRecognitionResult(alternatives=[alternative], is_final=is_final, stability=stability,
                                             result_end_time=dt.timedelta(seconds=end), language_code=language)


@dataclass
class StreamScript:
    """What one StreamingRecognize call answers: responses[i] is sent after the (i+1)-th audio request
    (the rest when the client finishes sending). abort_after: after that many responses, fail the stream."""
    responses: list[list[speech.StreamingRecognitionResult]] = field(default_factory=list)
    abort_after: int | None = None
    abort_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE


class FakeSpeechServer:
    def __init__(self) -> None:
        self.recognize_requests: list[speech.RecognizeRequest] = []
        self.streams: list[list[speech.StreamingRecognizeRequest]] = []
        self.recognize_results: list[list[speech.StreamingRecognitionResult]] = []  # one list per call
        self.stream_scripts: list[StreamScript] = []  # one per call; an empty script when they run out
        self.fail_next: list[grpc.StatusCode] = []  # the next calls (either method) fail with these codes
        self.delay = 0.0  # seconds before answering Recognize / each streaming response
        self.first_response_sent = threading.Event()
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self.address = ""

    # --- handlers ------------------------------------------------------------------------------------------
    def _maybe_fail(self, context: grpc.ServicerContext) -> None:
        with self._lock:
            code = self.fail_next.pop(0) if self.fail_next else None
        if code is not None:
            context.abort(code, f"fake speech server: scripted {code.name}")

    def _recognize(self, request: speech.RecognizeRequest,
                   context: grpc.ServicerContext) -> speech.RecognizeResponse:
        with self._lock:
            self.recognize_requests.append(request)
        self._maybe_fail(context)
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            scripted = self.recognize_results.pop(0) if self.recognize_results else []
        return speech.RecognizeResponse(results=[
            speech.SpeechRecognitionResult(alternatives=r.alternatives, result_end_time=r.result_end_time,
                                           language_code=r.language_code) for r in scripted])

    def _streaming_recognize(self, requests, context: grpc.ServicerContext):  # type: ignore[no-untyped-def]
        received: list[speech.StreamingRecognizeRequest] = []
        with self._lock:
            self.streams.append(received)
            script = self.stream_scripts.pop(0) if self.stream_scripts else StreamScript()
        self._maybe_fail(context)
        pending = list(script.responses)
        sent = 0

        def respond(results):  # type: ignore[no-untyped-def]
            nonlocal sent
            if script.abort_after is not None and sent >= script.abort_after:
                context.abort(script.abort_code,
                              f"fake speech server: stream aborted with {script.abort_code.name}")
            if self.delay:
                time.sleep(self.delay)
            sent += 1
            self.first_response_sent.set()
            return speech.StreamingRecognizeResponse(results=results)

        for request in requests:
            received.append(request)
            if request.audio_content and pending:
                yield respond(pending.pop(0))
        for results in pending:
            yield respond(results)

    # --- life cycle --------------------------------------------------------------------------------------
    def start(self) -> str:
        handlers = {
            "Recognize": grpc.unary_unary_rpc_method_handler(
                self._recognize, request_deserializer=speech.RecognizeRequest.deserialize,
                response_serializer=speech.RecognizeResponse.serialize),
            "StreamingRecognize": grpc.stream_stream_rpc_method_handler(
                self._streaming_recognize, request_deserializer=speech.StreamingRecognizeRequest.deserialize,
                response_serializer=speech.StreamingRecognizeResponse.serialize),
        }
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    def stop(self, grace: float | None = None) -> None:
        """Stop serving; open streams are cancelled (the client sees the connection go away)."""
        if self._server is not None:
            self._server.stop(grace).wait(5)
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what the client sent ----------------------------------------------------------------------------
    def stream_config(self, index: int = -1) -> speech.StreamingRecognitionConfig:
        return self.streams[index][0].streaming_config

    def stream_audio(self, index: int = -1) -> bytes:
        return b"".join(r.audio_content for r in self.streams[index][1:])
