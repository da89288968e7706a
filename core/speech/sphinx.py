"""The `sphinx` engine: pocketsphinx with the acoustic model from its wheel (English, zero download) and a
clinical language model of our own, built at first use from:

- corpus/clinical_en.txt: psychiatric-consultation sentences written for Synapse;
- the ICD-11 mental-health titles in core/data/icd11_mental_health.csv;
- psychiatric drug names and clinical terms with pronunciations (corpus/drugs.dict, corpus/terms.dict,
  CMUdict phone format), added to the dictionary and to the language model.

The model and its dictionary are cached under the data dir, named by a hash of every input, so an edited
corpus is rebuilt on the next start. Accuracy is limited (the acoustic model is the ceiling); it is the
fallback when no Whisper model is available.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
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
from core.speech.textnorm import spoken

log = logging.getLogger(__name__)

CORPUS_DIR = Path(__file__).resolve().parent / "corpus"
CLINICAL_CORPUS = CORPUS_DIR / "clinical_en.txt"
PRONUNCIATION_FILES = (CORPUS_DIR / "drugs.dict", CORPUS_DIR / "terms.dict")
ICD_TITLES = Path(__file__).resolve().parent.parent / "data" / "icd11_mental_health.csv"
BUILD_VERSION = "1"  # bump when the way the model is built changes
ACCURACY_NOTE = "Limited accuracy (offline fallback, English only): check the transcript carefully."
# Utterances are cut at pauses by the endpointer; a very long one is cut here so the search stays small.
MAX_UTTERANCE_SECONDS = 30.0
DISCOUNT_MASS = 0.5  # probability mass ArpaBoLM moves to backed-off (unseen) word sequences
UTTERANCE_MARGIN = 0.3  # seconds of context kept around each detected speech region
# A noise floor of about -62 dBFS (triangular, +-64 LSB) added before decoding. The acoustic model was
# trained on real recordings; on digitally silent pauses (synthetic or gated audio) its accuracy collapses
# (held-out dev sentences: WER 0.63 without, 0.35 with). Real microphones are noisier than this already.
NOISE_FLOOR_LSB = 32


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def read_pronunciations() -> dict[str, list[str]]:
    """Our added words: word -> list of phone strings (CMUdict format, "word(2)" for variants)."""
    entries: dict[str, list[str]] = {}
    for path in PRONUNCIATION_FILES:
        for line in _read_lines(path):
            word, _, phones = line.partition(" ")
            entries.setdefault(re.sub(r"\(\d+\)$", "", word.lower()), []).append(phones.strip())
    return entries


def _icd_sentences() -> list[str]:
    with open(ICD_TITLES, encoding="utf-8", newline="") as fh:
        titles = [row["title"] for row in csv.DictReader(fh)]
    # "Bipolar type II disorder" is said "bipolar type two disorder"
    titles = [re.sub(r"\btype (I{1,3})\b", lambda m: "type " + ("one", "two", "three")[len(m.group(1)) - 1], t)
              for t in titles]
    return [part for title in titles for part in re.split(r"[,;()]", title) if part.strip()]


def corpus_sentences(corpus: Path = CLINICAL_CORPUS) -> list[str]:
    """Every sentence of the language model, in spoken form (lower case, numbers in words)."""
    raw = _read_lines(corpus) + _icd_sentences()
    sentences = [spoken(line) for line in raw]
    # Each added word once on its own, so it is in the vocabulary even if no sentence uses it.
    sentences += sorted(read_pronunciations())
    return [s for s in sentences if s]


def _default_model_dir() -> Path:
    from pocketsphinx import get_model_path

    return Path(get_model_path()) / "en-us"


def _inputs_hash(corpus: Path = CLINICAL_CORPUS) -> str:
    import pocketsphinx

    digest = hashlib.sha256(f"build {BUILD_VERSION} discount {DISCOUNT_MASS} pocketsphinx "
                            f"{getattr(pocketsphinx, '__version__', '?')}\n".encode())
    for path in (corpus, ICD_TITLES, *PRONUNCIATION_FILES):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def lexicon(vocabulary: set[str]) -> tuple[list[str], set[str]]:
    """Dictionary lines (CMUdict format) for the vocabulary: our added words, else the wheel's CMUdict
    entries; and the words that have no pronunciation in either."""
    added = read_pronunciations()
    lines: list[str] = []
    known: set[str] = set()
    with open(_default_model_dir() / "cmudict-en-us.dict", encoding="utf-8") as fh:
        for line in fh:
            word = line.split(" ", 1)[0]
            base = re.sub(r"\(\d+\)$", "", word)
            if base in vocabulary and base not in added:
                lines.append(line.rstrip("\n"))
                known.add(base)
    for word, variants in sorted(added.items()):
        if word in vocabulary:
            lines += [f"{word if i == 0 else f'{word}({i + 1})'} {phones}" for i, phones in enumerate(variants)]
            known.add(word)
    return sorted(lines), vocabulary - known


def build_language_model(cache_dir: Path, corpus: Path = CLINICAL_CORPUS) -> tuple[Path, Path]:
    """The clinical language model (ARPA) and its pronunciation dictionary, built once per corpus version
    into cache_dir; returns their paths. Safe when several processes start at once (atomic renames)."""
    from io import StringIO

    from pocketsphinx.lm import ArpaBoLM

    key = _inputs_hash(corpus)[:16]
    lm_path, dict_path = cache_dir / f"clinical-{key}.lm", cache_dir / f"clinical-{key}.dict"
    if lm_path.is_file() and dict_path.is_file():
        return lm_path, dict_path
    started = time.perf_counter()
    cache_dir.mkdir(parents=True, exist_ok=True)
    sentences = corpus_sentences(corpus)
    lines, missing = lexicon({word for sentence in sentences for word in sentence.split()})
    if missing:
        # A word without a pronunciation can never be recognised; leave it out rather than confuse the search.
        log.warning("sphinx language model: %d words have no pronunciation and are left out: %s",
                    len(missing), ", ".join(sorted(missing)[:20]))
        sentences = [" ".join(w for w in s.split() if w not in missing) for s in sentences]
        sentences = [s for s in sentences if s]
    lm = ArpaBoLM(text="\n".join(sentences), add_start=True, case="lower", discount_mass=DISCOUNT_MASS)
    lm.compute()
    arpa = StringIO()
    lm.write(arpa)
    _write_atomic(dict_path, "\n".join(lines) + "\n")
    _write_atomic(lm_path, arpa.getvalue())
    log.info("sphinx language model built in %.1f s: %d sentences, %d words", time.perf_counter() - started,
             len(sentences), len(lines))
    return lm_path, dict_path


def _with_noise_floor(pcm: bytes) -> bytes:
    """pcm plus NOISE_FLOOR_LSB triangular noise, seeded: the same input always gives the same output."""
    import numpy as np

    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.int32)
    rng = np.random.default_rng(0)
    noise = rng.integers(-NOISE_FLOOR_LSB, NOISE_FLOOR_LSB + 1, samples.size) \
        + rng.integers(-NOISE_FLOOR_LSB, NOISE_FLOOR_LSB + 1, samples.size)
    return np.clip(samples + noise, -32768, 32767).astype(np.int16).tobytes()


class SphinxEngine:
    """pocketsphinx with the clinical language model. A pocketsphinx Decoder is not thread-safe: each call
    borrows one from a small pool (a new one is made when all are busy) and returns it afterwards."""

    def __init__(self, cache_dir: Path) -> None:
        started = time.perf_counter()
        try:
            import pocketsphinx  # noqa: F401

            self.lm_path, self.dict_path = build_language_model(Path(cache_dir))
            self._pool: list = [self._new_decoder()]
        except ImportError as exc:
            raise EngineUnavailable("pocketsphinx is not installed (pip install pocketsphinx).") from exc
        except (OSError, RuntimeError, ValueError) as exc:
            raise EngineUnavailable(f"The pocketsphinx model could not be loaded: {type(exc).__name__}: {exc}") \
                from exc
        self._lock = threading.Lock()
        self.load_seconds = time.perf_counter() - started
        self.info = EngineInfo(
            name="sphinx", model=f"pocketsphinx en-us + clinical language model ({self.lm_path.stem})",
            languages=("en",), accuracy_note=ACCURACY_NOTE,
            details={"lm": str(self.lm_path), "dict": str(self.dict_path),
                     "load_seconds": round(self.load_seconds, 2)},
        )

    def _new_decoder(self):  # type: ignore[no-untyped-def]
        from pocketsphinx import Decoder

        return Decoder(hmm=str(_default_model_dir() / "en-us"), lm=str(self.lm_path), dict=str(self.dict_path),
                       samprate=SAMPLE_RATE, loglevel="FATAL")

    def _borrow(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._pool:
                return self._pool.pop()
        return self._new_decoder()

    def _give_back(self, decoder) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            if len(self._pool) < 4:
                self._pool.append(decoder)

    def utterances(self, pcm: bytes) -> list[tuple[float, float]]:
        """Speech regions of a PCM16K buffer as (start s, end s), found by pocketsphinx's voice-activity
        endpointer, widened by a small margin; long regions are cut every MAX_UTTERANCE_SECONDS."""
        from pocketsphinx import Endpointer

        endpointer = Endpointer(sample_rate=SAMPLE_RATE, frame_length=0.03)
        size = endpointer.frame_bytes
        total = len(pcm) / BYTES_PER_SECOND
        regions: list[tuple[float, float]] = []
        start: float | None = None
        for offset in range(0, len(pcm), size):
            frame = pcm[offset:offset + size]
            was_speaking = endpointer.in_speech
            speech = endpointer.process(frame) if len(frame) == size else endpointer.end_stream(frame)
            if speech is not None and not was_speaking:
                start = endpointer.speech_start
            if start is not None and not endpointer.in_speech:
                regions.append((start, endpointer.speech_end))
                start = None
        if start is not None:
            regions.append((start, total))
        widened: list[tuple[float, float]] = []
        for begin, end in regions:
            begin, end = max(0.0, begin - UTTERANCE_MARGIN), min(total, end + UTTERANCE_MARGIN)
            if widened and begin <= widened[-1][1]:
                begin = widened.pop()[0]
            while end - begin > MAX_UTTERANCE_SECONDS:
                widened.append((begin, begin + MAX_UTTERANCE_SECONDS))
                begin += MAX_UTTERANCE_SECONDS
            widened.append((begin, end))
        return widened

    def transcribe(self, pcm: bytes, *, language: str | None = None,
                   progress: ProgressCallback | None = None) -> list[Segment]:
        if language and not language.lower().startswith("en"):
            raise SpeechError(f"The sphinx engine transcribes English only, not {language!r}.")
        pcm = _with_noise_floor(pcm[: len(pcm) // 2 * 2])
        total = max(len(pcm) / BYTES_PER_SECOND, 1e-9)
        decoder = self._borrow()
        segments: list[Segment] = []
        try:
            for start, end in self.utterances(pcm):
                decoder.start_utt()
                decoder.process_raw(pcm[int(start * SAMPLE_RATE) * 2:int(end * SAMPLE_RATE) * 2], full_utt=True)
                decoder.end_utt()
                hyp = decoder.hyp()
                text = hyp.hypstr.strip() if hyp is not None else ""
                if text:
                    segments.append(Segment(start=round(start, 2), end=round(end, 2), text=text, language="en"))
                if progress:
                    progress(min(end / total, 1.0))
        except (RuntimeError, ValueError, IndexError) as exc:
            # The decoder may be mid-utterance: drop it rather than hand it to the next caller.
            raise SpeechError(f"pocketsphinx failed while transcribing: {type(exc).__name__}: {exc}") from exc
        self._give_back(decoder)
        if progress:
            progress(1.0)
        return segments
