"""Real-time factor and peak memory of each available speech engine, on 2 cores.

A clinical recording is synthesised with espeak-ng (a doctor-patient exchange, pauses between turns). Each
engine available here runs in its own child process pinned to 2 CPUs (as on a 2-core server): load, one
untimed warm-up, then --size timed transcriptions through Transcriber.transcribe.

- RTF = transcription time / audio duration (median); targets: whisper tiny.en <= 0.1, sphinx <= 0.25;
  printed with the ratio RTF/target. 1/RTF is printed as an upper bound of concurrent real-time streams one
  such server could sustain (the live pipeline adds its own work, and Whisper decodes 30 s windows).
- Peak memory: the child's peak resident set size (ru_maxrss) after the engine ran, against its own peak
  before the engine was loaded (the interpreter with the speech modules imported) as the baseline.
- google is measured only with real credentials (GOOGLE_APPLICATION_CREDENTIALS); never against a fake.

    python -m bench.speech_rtf [--size 3]
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.common import app_environment, cli, median, ratio, timed, verdict

TARGET_RTF = {"whisper": 0.1, "sphinx": 0.25}
CPUS = 2
SCRIPT = (
    "Good morning. How have you been sleeping since the last visit?",
    "Not well, doctor. I wake up at four and cannot fall asleep again.",
    "Are you still taking sertraline fifty milligrams every morning?",
    "Yes, and the nausea has gone, but I still feel tired during the day.",
    "Any thoughts of harming yourself? No, never. Good. We will increase the dose slightly.",
)


def synthesise(sentences: tuple[str, ...], directory: Path) -> Path:
    """espeak-ng speech of the sentences, 16 kHz mono 16-bit, 0.8 s between them, 1 s around."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        raise RuntimeError("the speech benchmark needs espeak-ng and sox (Debian packages)")
    parts = []
    for i, sentence in enumerate(sentences):
        raw, part = directory / f"raw{i}.wav", directory / f"part{i}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), sentence], check=True)
        subprocess.run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(part), "pad", "0", "0.8"],
                       check=True)
        parts.append(str(part))
    out = directory / "consultation.wav"
    subprocess.run(["sox", "-D", *parts, str(out), "pad", "1", "1"], check=True)
    return out


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _measure(name: str, wav: str, size: int, results) -> None:  # type: ignore[no-untyped-def]
    """In a child process: pin to CPUS cores, load the engine, warm up, time size transcriptions."""
    try:
        cpus = sorted(os.sched_getaffinity(0))[:CPUS]
        os.sched_setaffinity(0, cpus)
        from core.speech.audio import decode, seconds
        from core.speech.engines import load_engine

        pcm = decode(wav)
        baseline_mb = _peak_mb()
        load_seconds, engine = timed(load_engine, name)
        engine.transcribe(pcm)  # warm-up
        samples, text = [], ""
        for _ in range(size):
            elapsed, segments = timed(engine.transcribe, pcm)
            samples.append(elapsed)
            text = " ".join(s.text for s in segments)
        results.put({"name": name, "model": engine.info.model, "cpus": len(cpus), "audio_seconds": seconds(pcm),
                     "load_seconds": load_seconds, "samples": samples, "baseline_mb": baseline_mb,
                     "peak_mb": _peak_mb(), "text": text})
    except Exception as exc:  # noqa: BLE001 - reported by the parent
        results.put({"name": name, "error": f"{type(exc).__name__}: {exc}"})


def run(size: int = 3, sentences: tuple[str, ...] = SCRIPT, engines: tuple[str, ...] | None = None) -> dict:
    from core.speech.engines import available_engines

    result: dict = {"size": size, "engines": {}, "skipped": {}}
    with app_environment(), tempfile.TemporaryDirectory(prefix="synapse-speech-bench-") as tmp:
        wav = synthesise(sentences, Path(tmp))
        names = engines or tuple(available_engines())
        context = multiprocessing.get_context("spawn")
        for name in names:
            if name == "google" and not os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"):
                result["skipped"][name] = "no real Google credentials"
                continue
            queue = context.Queue()
            child = context.Process(target=_measure, args=(name, str(wav), size, queue))
            child.start()
            measured = queue.get(timeout=600)
            child.join(60)
            if "error" in measured:
                result["skipped"][name] = measured["error"]
                continue
            rtf = median(measured["samples"]) / measured["audio_seconds"]
            entry = {**measured, "rtf": rtf, "streams": 1 / rtf,
                     "memory_ratio": ratio(measured["peak_mb"], measured["baseline_mb"])}
            if name in TARGET_RTF:
                entry["target"] = TARGET_RTF[name]
                entry["target_ratio"] = ratio(rtf, TARGET_RTF[name])
            result["engines"][name] = entry
    result["audio_seconds"] = next((e["audio_seconds"] for e in result["engines"].values()), 0.0)
    print(report(result))
    return result


def report(r: dict) -> str:
    lines = [(f"speech_rtf: {r['audio_seconds']:.1f} s espeak-ng consultation, {r['size']} timed runs per engine, "
              f"{CPUS} cores")]
    for name, e in r["engines"].items():
        lines.append(f"  {name}: {e['model']} (loaded in {e['load_seconds']:.2f} s, {e['cpus']} cpus)")
        rtf_line = f"      RTF median {e['rtf']:.3f}"
        if "target" in e:
            rtf_line += (f"   target <= {e['target']:g}: ratio {e['target_ratio']:.2f}x, "
                         f"{verdict(e['rtf'] <= e['target'])}")
        lines.append(rtf_line)
        lines.append(f"      about {e['streams']:.1f} real-time streams at most on {e['cpus']} cores (1/RTF)")
        lines.append(f"      peak memory {e['peak_mb']:.0f} MB vs {e['baseline_mb']:.0f} MB before loading "
                     f"(baseline): {e['memory_ratio']:.2f}x")
        lines.append(f"      text: {e['text'][:100]}")
    for name, why in r["skipped"].items():
        lines.append(f"  {name}: not measured ({why})")
    return "\n".join(lines)


if __name__ == "__main__":
    cli(run, 3, "timed transcriptions per engine")
