"""`synapse transcribe FILE [--engine E] [--language L]` and `synapse models fetch NAME`.

The transcript goes to stdout, everything else to stderr. Exit codes: 0 done, 1 the file or the engine
failed, 2 usage (no such file, unknown engine). No database is needed: this is the upload path
(core.speech.engines.transcribe_recording) without the web page, so a clinic can check an engine on its own
recordings. Wired into core/cli.py with add_parser(subparsers); also runnable as
`python -m core.speech.transcribe_cli transcribe FILE`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def clock(value: float) -> str:
    minutes, secs = divmod(value, 60)
    return f"{int(minutes):02d}:{secs:05.2f}"


def add_parser(subparsers) -> None:  # type: ignore[no-untyped-def]
    """Add `transcribe` and `models` to the `synapse` command's subparsers."""
    from core.speech.engines import ENGINE_NAMES

    p = subparsers.add_parser("transcribe", help="print the transcript of an audio file (no database needed)",
                              description="Decode an audio file (WAV, MP3, M4A, WebM, OGG) and print its "
                              "transcript; diagnostics go to stderr.")
    p.add_argument("file", help="the recording")
    p.add_argument("--engine", choices=ENGINE_NAMES,
                   help="speech engine (default: SYNAPSE_SPEECH_ENGINE, else whisper if a model is available, "
                        "else sphinx)")
    p.add_argument("--language", help="language code, e.g. en, hi, mr (or en-IN); default: the engine's")
    p.add_argument("--timestamps", action="store_true", help="prefix each segment with its start and end")
    p.set_defaults(func=run)

    m = subparsers.add_parser("models", help="speech models: download a Whisper model ahead of time")
    msub = m.add_subparsers(dest="models_command", required=True)
    f = msub.add_parser("fetch", help="download a Whisper model (e.g. small, tiny.en) into the data dir")
    f.add_argument("name", help="a faster-whisper model name (tiny, base, small, ...) or a Hugging Face repo id")
    msub.add_parser("status", help="which speech engine and model would be used")
    m.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "command", None) == "models" or hasattr(args, "models_command"):
        return _models(args)
    return _transcribe(args)


def _transcribe(args: argparse.Namespace) -> int:
    from core.config import get_settings
    from core.speech.base import EngineUnavailable, SpeechError
    from core.speech.engines import load_engine, transcribe_recording

    path = Path(args.file)
    if not path.is_file():
        _err(f"No such file: {path}")
        return EXIT_USAGE
    settings = get_settings()
    try:
        engine = load_engine(args.engine, settings)
    except EngineUnavailable as exc:
        _err(f"The {args.engine or 'default'} speech engine is not available: {exc}")
        return EXIT_FAILED
    except SpeechError as exc:
        _err(str(exc))
        return EXIT_USAGE
    info = engine.info
    _err(f"engine: {info.name} - {info.model}; languages: {', '.join(info.languages[:8])}")
    if info.accuracy_note:
        _err(f"note: {info.accuracy_note}")
    try:
        result = transcribe_recording(path, engine=engine, language=args.language, settings=settings)
    except SpeechError as exc:
        _err(f"Not transcribed: {exc}")
        return EXIT_FAILED
    for segment in result.segments:
        if args.timestamps:
            speaker = f" {segment.speaker}:" if segment.speaker else ""
            print(f"[{clock(segment.start)} - {clock(segment.end)}]{speaker} {segment.text}")
        else:
            print(segment.text)
    rtf = result.transcribe_seconds / result.audio_seconds if result.audio_seconds else 0.0
    _err(f"{result.audio_seconds:.1f} s of audio, {len(result.segments)} segments; decoded in "
         f"{result.decode_seconds:.2f} s, transcribed in {result.transcribe_seconds:.2f} s (real-time factor "
         f"{rtf:.2f})")
    if not result.segments:
        _err("No speech was recognised.")
    return EXIT_OK


def _models(args: argparse.Namespace) -> int:
    from core.config import get_settings
    from core.speech.base import SpeechError
    from core.speech.engines import engine_status

    settings = get_settings()
    if args.models_command == "status":
        for line in engine_status(settings):
            print(line)
        return EXIT_OK
    from core.speech.whisper import fetch_model

    try:
        path = fetch_model(args.name, settings.data_dir)
    except SpeechError as exc:
        _err(f"Not downloaded: {exc}")
        return EXIT_FAILED
    print(f"Whisper model {args.name!r} is in {path}.")
    print(f"Use it with SYNAPSE_WHISPER_MODEL={args.name} (it is found there without internet).")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point with the same commands, for when core.cli is not at hand."""
    import logging

    from core.config import ConfigurationError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m core.speech.transcribe_cli")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigurationError as exc:
        _err(f"Configuration error: {exc}")
        return 3
    except KeyboardInterrupt:
        _err("Interrupted.")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
