"""A tiny run of the speech benchmark, so it never rots. Not timed: only that the results are well-formed."""

from __future__ import annotations

import math
import os
import shutil

from bench import speech_rtf
from tests.conftest import TEST_ENCRYPTION_KEY, unavailable


def test_speech_rtf_tiny(capsys):
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        unavailable("espeak-ng and sox are needed to synthesise the benchmark recording")
    result = speech_rtf.run(size=1, sentences=speech_rtf.SCRIPT[:1], engines=("sphinx",))
    assert result["skipped"] == {}
    entry = result["engines"]["sphinx"]
    for key in ("rtf", "load_seconds", "peak_mb", "baseline_mb", "audio_seconds", "target_ratio", "streams"):
        assert isinstance(entry[key], float) and math.isfinite(entry[key]) and entry[key] > 0, (key, entry[key])
    assert len(entry["samples"]) == 1 and entry["cpus"] >= 1
    assert entry["rtf"] == entry["samples"][0] / entry["audio_seconds"]
    assert entry["target_ratio"] == entry["rtf"] / speech_rtf.TARGET_RTF["sphinx"]
    assert entry["peak_mb"] >= entry["baseline_mb"]
    assert "sleeping" in entry["text"]  # it transcribed the recording, not silence
    printed = capsys.readouterr().out
    assert f"RTF median {entry['rtf']:.3f}" in printed and f"ratio {entry['target_ratio']:.2f}x" in printed
    assert os.environ["SYNAPSE_ENCRYPTION_KEYS"] == TEST_ENCRYPTION_KEY  # environment restored


def test_speech_rtf_reports_an_engine_that_cannot_load(monkeypatch):
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        unavailable("espeak-ng and sox are needed to synthesise the benchmark recording")
    monkeypatch.setenv("SYNAPSE_WHISPER_MODEL", "/nonexistent/model")
    result = speech_rtf.run(size=1, sentences=("Hello.",), engines=("whisper",))
    assert result["engines"] == {} and "not a CTranslate2 Whisper model" in result["skipped"]["whisper"]
