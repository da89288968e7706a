"""A live consultation in a real browser against a real Streamlit server (fixtures in tests/e2e/server.py), with
a WAV file of espeak-ng speech as the microphone: Dr. Rao opens a consenting patient of hers, starts a
consultation, starts the microphone, lets the file play, stops; the review shows the transcript. The saved
transcript (on the page and in the server's database) contains the clinical words spoken, and the stored
audio lasts as long as the file, within 10 %.

Chromium plays a fake-capture file only when launched with it (the flag is per browser process), so this test
launches a Chromium of its own (not the shared one), through the test process's one Playwright instance. Screenshots of every
step go to test-artifacts/e2e/, with the server's log."""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
import textwrap
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("playwright")
from playwright.sync_api import Page, expect

from tests.conftest import CHROMIUM, unavailable
from tests.e2e.server import ARTIFACTS, CHROMIUM_ARGS, PYTHON, REPO_ROOT, UI_TIMEOUT_MS, Shots
from tests.e2e.test_intake_browser import open_sidebar_page, select_first_row
from tests.e2e.test_sign_in import no_app_errors, open_app, settled, sign_in_as

pytestmark = pytest.mark.e2e

DOCTOR, DOCTOR_NAME = "dr.rao", "Dr. Meera Rao"
PATIENT, PATIENT_PHONE = "Priya Nair", "98200 00002"  # a demo patient: Dr. Rao's, consents to recording
SPEECH = "I have been feeling very low and I cannot sleep at night. I stopped taking sertraline last month."
EXPECTED_WORDS = ("low", "sleep")  # loose on purpose: the engine may mishear the drug name
SILENCE_BEFORE_S, SILENCE_AFTER_S = 1.5, 3.0
DURATION_TOLERANCE = 0.10
# Chromium goes on sending silence after a %noloop file has ended, so the test ends the capture itself, as a
# doctor does: it presses the component's STOP once the browser has been sending audio for as long as the file
# lasts (less a little for the click), timed from the first audio packet the browser sent. The page's "Audio
# received: mm:ss" (whole seconds, refreshed every second) is too coarse for that.
CLICK_ALLOWANCE_S = 0.15
CAPTURE_GRACE_S = 15.0  # bound on the wait for the browser to start sending, beyond the file's length
QUIET_MS = 1_500  # after STOP: the received time has stood still this long
# Then, as a doctor would, wait until the live transcript shows the last sentence as final before stopping the
# consultation (stop gives the last decode only 2 s). Whisper decodes each utterance in well under a second
# on an idle 2-core machine, but falls seconds behind when the machine is busy.
LAST_WORD = {"whisper": "month"}  # sphinx: the first sentence's word will do
CATCH_UP_S = 30.0

# Added to every frame before its scripts run: keeps the peer connections the page creates and, every 50 ms,
# what they have sent (outbound audio RTP packets, 20 ms of Opus each) and since when. Observes only.
_WATCH_PEER_CONNECTIONS = """(() => {
    const Native = window.RTCPeerConnection;
    if (!Native || window.__synapseAudio) return;
    const audio = window.__synapseAudio = {connections: [], packets: 0, firstAt: null};
    window.RTCPeerConnection = class extends Native {
        constructor(...args) { super(...args); audio.connections.push(this); }
    };
    setInterval(async () => {
        let packets = 0;
        for (const pc of audio.connections) {
            if (pc.connectionState === "closed") continue;
            try {
                (await pc.getStats()).forEach(s => {
                    if (s.type === "outbound-rtp" && s.kind === "audio") packets += s.packetsSent || 0;
                });
            } catch (e) { /* closed meanwhile */ }
        }
        if (packets > audio.packets) audio.packets = packets;  // after a close: the last count stays
        if (packets > 0 && audio.firstAt === null) audio.firstAt = performance.now();
    }, 50);
})();"""
# In the component's frame: true once the browser has been sending audio for `ms` milliseconds.
_SENT_FOR = """(ms) => {
    const audio = window.__synapseAudio;
    return Boolean(audio && audio.firstAt !== null && performance.now() - audio.firstAt >= ms);
}"""


def onset(pcm: bytes) -> float | None:
    """Seconds before the first sample louder than -30 dBFS (the speech), or None."""
    loud = np.flatnonzero(np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32)) > 1000)
    return round(int(loud[0]) / 16000, 3) if len(loud) else None


# The consultation as stored, read by a separate process with the server's own environment (data dir, keys):
# models decrypt the text with the keyring from the server's keys.env.
_STORED = "import numpy as np\n" + textwrap.dedent(inspect.getsource(onset)) + textwrap.dedent("""
    import json, sys
    from sqlalchemy import select
    from core.db import unit_of_work
    from core.models import AudioChunk, Consultation, TranscriptSegment
    from core.services import audio_store
    with unit_of_work() as session:
        c = session.exec(select(Consultation).where(Consultation.code == sys.argv[1])).scalars().one()
        chunks = session.exec(select(AudioChunk).where(AudioChunk.consultation_id == c.id)
                              .order_by(AudioChunk.seq)).scalars().all()
        pcm = b"".join(audio_store.read_chunk(ch.path) for ch in chunks)
        segments = session.exec(select(TranscriptSegment).where(TranscriptSegment.consultation_id == c.id)
                                .order_by(TranscriptSegment.seq)).scalars().all()
        print(json.dumps({"status": c.status, "transcription": c.transcription, "engine": c.engine,
                          "engine_model": c.engine_model, "audio_seconds": c.audio_seconds,
                          "chunks": len(chunks), "seqs": [ch.seq for ch in chunks],
                          "pcm_bytes": sum(ch.pcm_bytes for ch in chunks), "decrypted_bytes": len(pcm),
                          "speech_onset": onset(pcm),
                          "segments": [s.machine_text for s in segments],
                          "starts": [s.start_s for s in segments]}))
""")

# In the page: true once the "Audio received" time is at least `least` s and has not changed for `quiet` ms.
_RECEIVED = """([least, quiet]) => {
    const el = [...document.querySelectorAll('[data-testid="stMarkdownContainer"]')]
        .find(e => /Audio received:/.test(e.innerText));
    const m = el && el.innerText.match(/Audio received:\\s*(\\d+):(\\d\\d)/);
    if (!m) return false;
    const seconds = Number(m[1]) * 60 + Number(m[2]);
    const now = performance.now();
    const w = window.__synapseAudioWatch || (window.__synapseAudioWatch = {seconds: -1, since: now});
    if (seconds !== w.seconds) { w.seconds = seconds; w.since = now; return false; }
    return seconds >= least && now - w.since >= quiet;
}"""


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> tuple[Path, float, float]:
    """The speech as 16-bit PCM mono 16 kHz with silence around it: (path, duration, speech onset), seconds."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (Debian package `{tool}`)")
    folder = tmp_path_factory.mktemp("speech")
    raw, path = folder / "raw.wav", folder / "consultation.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), SPEECH], check=True, timeout=60)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer", str(path),
                    "pad", str(SILENCE_BEFORE_S), str(SILENCE_AFTER_S)], check=True, timeout=60)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        seconds = w.getnframes() / w.getframerate()
        pcm = w.readframes(w.getnframes())
    return path, seconds, onset(pcm)


@pytest.fixture
def mic_page(playwright_driver, synapse_server, speech_wav, request) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    """Like the `page` fixture, in a Chromium of its own whose microphone plays the speech file once."""
    wav = speech_wav[0]
    expect.set_options(timeout=UI_TIMEOUT_MS)
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=False, args=[
        *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop"])
    try:
        context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=synapse_server.url)
        context.set_default_timeout(UI_TIMEOUT_MS)
        context.add_init_script(_WATCH_PEER_CONNECTIONS)
        pg = context.new_page()
        pg.console_errors = []  # type: ignore[attr-defined]
        pg.on("console", lambda msg: pg.console_errors.append(msg.text) if msg.type == "error" else None)
        pg.on("pageerror", lambda exc: pg.console_errors.append(f"pageerror: {exc}"))
        yield pg
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(synapse_server.log_path, ARTIFACTS / f"{request.node.name}-server.log")
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            try:
                pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
            except Exception as exc:  # noqa: BLE001 - best effort only
                print(f"no failure screenshot: {exc}")
            print(f"browser console errors: {pg.console_errors}")
            print(f"--- server log (tail) ---\n{synapse_server.log_tail()}")
    finally:
        browser.close()


def stored_consultation(synapse_server, code: str) -> dict:  # type: ignore[no-untyped-def]
    done = subprocess.run([PYTHON, "-c", _STORED, code], cwd=REPO_ROOT, env=synapse_server.env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def test_doctor_records_a_consultation_with_the_microphone(mic_page: Page, synapse_server, speech_wav,
                                                           request) -> None:
    page, (_, wav_seconds, wav_onset) = mic_page, speech_wav
    shot = Shots(page, request.node.name)

    open_app(page)
    sign_in_as(page, DOCTOR, synapse_server.passwords[DOCTOR], DOCTOR_NAME)

    # The patient, found by phone, opened from the table.
    open_sidebar_page(page, "Patients")
    query = page.get_by_role("textbox", name="Search", exact=True)
    query.fill(PATIENT_PHONE)
    query.press("Enter")
    expect(page.get_by_text("1 patient matching by phone · page 1 of 1")).to_be_visible()
    settled(page)
    grid = page.get_by_test_id("stDataFrame")
    expect(grid.locator("tbody tr")).to_have_count(1)
    select_first_row(page, grid)
    expect(page.get_by_role("heading", name=PATIENT, exact=True)).to_be_visible()
    settled(page)
    no_app_errors(page)
    expect(page.get_by_text(re.compile(r"recording consent: yes"))).to_be_visible()
    shot("patient-record")

    # Consultations tab -> Start a consultation -> the Consultation page's start form.
    page.get_by_role("tab", name="Consultations").click()
    page.get_by_role("button", name="Start a consultation").click()
    expect(page.get_by_role("heading", name=re.compile(rf"^Start a consultation with {PATIENT} \(P-\d{{6}}\)")))\
        .to_be_visible()
    expect(page).to_have_url(re.compile(r"/consultation$"))
    settled(page)  # the first visit loads the speech engine (once per server process)
    no_app_errors(page)
    expect(page.get_by_text(re.compile(r"^Speech engine: (whisper|sphinx)"))).to_be_visible()
    engine_line = page.get_by_text(re.compile(r"^Speech engine: ")).first.inner_text()
    form = page.get_by_test_id("stForm").filter(has=page.get_by_role("button", name="Start consultation"))
    form.get_by_label("Chief complaint").fill("Low mood and poor sleep; stopped sertraline")
    expect(form.get_by_role("combobox")).to_have_value("New patient")  # the default type: her first visit
    expect(form.get_by_role("checkbox", name="Record and transcribe")).to_be_checked()
    shot("start-form")
    form.get_by_role("button", name="Start consultation").click()

    heading = page.get_by_role("heading", name=re.compile(r"^CS-\d{8}-[A-Z0-9]{8} · New patient · in progress$"))
    expect(heading).to_be_visible()
    code = heading.inner_text().split(" · ")[0]
    no_app_errors(page)
    expect(page.get_by_text(re.compile(r"^Audio received: 00:00"))).to_be_visible()
    shot("in-progress")

    # The microphone: streamlit-webrtc's START button lives in the component's iframe.
    component = page.frame_locator('iframe[title*="webrtc"]')
    component_frame = page.locator('iframe[title*="webrtc"]').element_handle().content_frame()
    start_mic = component.get_by_role("button", name="Start microphone")
    expect(start_mic).to_be_enabled()
    start_mic.click()
    stop_mic = component.get_by_role("button", name="Stop microphone")
    expect(stop_mic).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Audio received: 00:0[1-9]"))).to_be_visible()
    no_app_errors(page)
    shot("capturing")

    # The file plays; once the browser has sent as much audio as the file holds, stop the microphone. The
    # received time then stands still.
    component_frame.wait_for_function(_SENT_FOR, arg=(wav_seconds - CLICK_ALLOWANCE_S) * 1000, polling=20,
                                      timeout=(wav_seconds + CAPTURE_GRACE_S) * 1000)
    stop_mic.click()
    expect(start_mic).to_be_visible()
    sent_seconds = component_frame.evaluate("() => window.__synapseAudio.packets") * 0.020
    page.wait_for_function(_RECEIVED, arg=[1, QUIET_MS], polling=100, timeout=UI_TIMEOUT_MS)
    received = page.get_by_text(re.compile(r"^Audio received: ")).inner_text()
    last_word = LAST_WORD.get(engine_line.removeprefix("Speech engine: ").split(":")[0], "sleep")
    caught_up = time.monotonic()
    expect(page.get_by_text(re.compile(rf"^\d\d:\d\d .*\b{last_word}\b", re.IGNORECASE)).first)\
        .to_be_visible(timeout=CATCH_UP_S * 1000)
    caught_up = time.monotonic() - caught_up
    no_app_errors(page)
    shot("speech-received")

    page.get_by_role("button", name="Stop consultation").click()
    review = page.get_by_role("heading", name=f"{code} · New patient · completed")
    expect(review).to_be_visible()
    settled(page)
    no_app_errors(page)
    expect(page.get_by_text("No transcript.")).to_have_count(0)
    segments = page.get_by_test_id("stMarkdownContainer").filter(has_text=re.compile(r"^\d\d:\d\d\s"))
    expect(segments.first).to_be_visible()
    page_text = " ".join(segments.all_inner_texts())
    segments.first.scroll_into_view_if_needed()
    shot("review")

    stored = stored_consultation(synapse_server, code)
    db_text = " ".join(stored["segments"])
    stored_seconds = stored["pcm_bytes"] / 32_000
    print(f"{engine_line}\nwav {wav_seconds:.2f} s, speech from {wav_onset} s; browser sent {sent_seconds:.2f} s; "
          f"page said {received!r}; live transcript final {caught_up:.1f} s after the microphone stopped; "
          f"stored {stored}")

    for expected in EXPECTED_WORDS:
        assert expected in words(page_text), f"{expected!r} not in the transcript on the page: {page_text!r}"
        assert expected in words(db_text), f"{expected!r} not in the stored transcript: {db_text!r}"
    assert stored["status"] == "completed" and stored["transcription"] == "done", stored
    # Each utterance once: saved as it became final, not again at stop.
    assert stored["starts"] == sorted(set(stored["starts"])), stored
    assert len(segments.all_inner_texts()) == len(stored["segments"])
    assert stored["seqs"] == list(range(len(stored["seqs"]))) and stored["seqs"], stored["seqs"]  # no gap
    assert stored["decrypted_bytes"] == stored["pcm_bytes"]
    assert stored["audio_seconds"] == pytest.approx(stored_seconds, abs=0.01)
    shown = re.search(r"(\d\d):(\d\d)", received)
    assert abs(int(shown[1]) * 60 + int(shown[2]) - stored_seconds) < 1.05, (received, stored_seconds)
    # The speech is in the stored audio (it starts ~0.6 s earlier than in the file: the browser plays the file
    # from START, and sends from when the connection is up).
    assert stored["speech_onset"] is not None, "the stored audio is silent"
    # What the browser sent reached the disk: all of it but the last few packets, which aiortc still holds
    # (its audio jitter buffer) when the connection closes; 0.08-0.24 s here ...
    assert stored_seconds == pytest.approx(sent_seconds, abs=0.5), (stored_seconds, sent_seconds)
    # ... and as long as the file.
    assert stored_seconds == pytest.approx(wav_seconds, rel=DURATION_TOLERANCE), \
        f"stored {stored_seconds:.2f} s of audio for a {wav_seconds:.2f} s file"
