"""A tiny run of bench.live_stream (a 20-second stream, short concurrency trials), so it never rots. Not
timed: only that the results are well-formed."""

from __future__ import annotations

import math
import shutil

from tests.conftest import unavailable


def test_live_stream_tiny(capsys):
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        unavailable(f"{' and '.join(missing)} not installed (Debian packages espeak-ng, sox)")
    from bench import live_stream

    result = live_stream.run(minutes=20 / 60, engine="sphinx", stretch=2.0, max_sessions=2, tail_seconds=2.0)
    assert result["engine"] == "sphinx"
    # The stream ends mid-sentence, at most 20 s in.
    assert 500 <= result["frames_pushed"] <= 1000
    assert result["audio_seconds"] == result["frames_pushed"] * 0.02
    # Byte counts are exact, whatever the speed: nothing dropped, chunks in order.
    assert result["expected_bytes"] == result["frames_pushed"] * 640
    assert result["stored_bytes"] == result["expected_bytes"] == result["session_stored_bytes"]
    assert result["frames_dropped"] == 0 and result["chunks_in_order"]
    assert result["chunks"] == -(-result["expected_bytes"] // 128_000)  # 4-second chunks, the last partial
    for key in ("stream_wall_seconds", "speedup", "rss_start_mb", "rss_peak_mb", "rss_end_mb", "stop_seconds",
                "stop_ratio", "push_max_ms", "engine_seconds"):
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0, key
    assert result["rss_start_mb"] <= result["rss_peak_mb"] and result["rss_end_mb"] <= result["rss_peak_mb"]
    assert result["stop_ratio"] == result["stop_seconds"] / 2.0
    assert result["finals"] > 0 and result["words"] > 0 and not result["errors"]
    assert 0 < result["speech_share"] < 1
    trials = result["trials"]
    assert trials and trials[0]["sessions"] == 1
    assert all(t["lost_bytes"] == 0 for t in trials)  # a busy machine may fall behind; losing, never
    assert 0 <= result["sustained_sessions"] <= 2
    assert result["sustained_sessions"] == max([t["sessions"] for t in trials if t["ok"]], default=0)
    printed = capsys.readouterr().out
    assert "frames dropped 0" in printed and f"{result['stop_ratio']:.2f}x" in printed
    sustained = f"sustained in real time on {result['cpus']} CPUs: {result['sustained_sessions']} sessions"
    assert sustained in printed
