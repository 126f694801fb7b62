"""The web page in a real browser: headless Chromium, a fake camera playing a video of real photos, the page must spell its word."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from conftest import HELLO  # photos the shipped model reads reliably (see the comment there)

WORD = "HELLO"
WIDTH, HEIGHT = 640, 480
FRAMES_PER_PHOTO = 5  # 10 photos per letter at 30 fps: each letter held 1.7 s (a loaded machine sees ~15 fps)
PAUSE_FRAMES = 30  # grey hand-free frames before and after the word


def camera_frames(data_dir):
    """640x480 BGR frames spelling WORD: each asl2text/test photo scaled to 480x480, edges repeated."""
    import cv2

    grey = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    frames = [grey] * PAUSE_FRAMES
    for label, stems in HELLO:
        if label is None:  # the hand drops (between the two L too)
            frames += [grey] * (stems * FRAMES_PER_PHOTO)
            continue
        for stem in stems:
            photo = cv2.resize(cv2.imread(str(data_dir / "asl2text" / "test" / label / f"{stem}.jpg")), (HEIGHT, HEIGHT))
            pad = (WIDTH - HEIGHT) // 2
            frames += [cv2.copyMakeBorder(photo, 0, 0, pad, pad, cv2.BORDER_REPLICATE)] * FRAMES_PER_PHOTO
    return frames + [grey] * PAUSE_FRAMES


def write_mjpeg(path, frames):
    """Concatenated JPEGs: the .mjpeg file Chromium's fake camera plays (at 30 fps, looping)."""
    import cv2

    with open(path, "wb") as f:
        for frame in frames:
            f.write(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return path


@pytest.fixture(scope="module")
def camera_video(data_dir, tmp_path_factory):
    return write_mjpeg(tmp_path_factory.mktemp("camera") / "hello.mjpeg", camera_frames(data_dir))


@contextlib.contextmanager
def serving(app, port: int = 0):
    """``app`` on uvicorn in a thread, on ``port`` (0: a free one) of 127.0.0.1; yields its URL."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restarted server takes the same port
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def server_url():
    """The shipped model's page."""
    from landmark_asl.serve.app import create_app

    with serving(create_app()) as url:
        yield url


def j_frames(data_dir):
    """640x480 BGR frames of a J: an asl2text/test I photo (300x300) held 0.5 s, then moved along a J
    (down, then a hook) in 20 frames while it turns 60 degrees, held 0.7 s, then 1 s without a hand."""
    import cv2

    photo = cv2.resize(cv2.imread(str(data_dir / "asl2text" / "test" / "I" / "I0.jpg")), (300, 300))
    fill = tuple(int(v) for v in np.median(np.concatenate([photo[0], photo[-1], photo[:, 0], photo[:, -1]]), axis=0))
    theta = np.linspace(0, np.pi, 10)
    path = np.concatenate([np.stack([np.zeros(10), np.linspace(0, 110, 10)], 1),
                           np.stack([-45 + 45 * np.cos(theta), 110 + 45 * np.sin(theta)], 1)])
    angles = np.concatenate([np.zeros(10), np.linspace(0, 60, 10)])

    def at(dx, dy, angle):
        matrix = cv2.getRotationMatrix2D((150, 150), float(angle), 1.0)
        matrix[:, 2] += (WIDTH / 2 - 150 + dx, 60 + dy)
        return cv2.warpAffine(photo, matrix, (WIDTH, HEIGHT), borderMode=cv2.BORDER_CONSTANT, borderValue=fill)

    grey = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    return ([grey] * 15 + [at(0, 0, 0)] * 15 + [at(dx, dy, a) for (dx, dy), a in zip(path, angles)]
            + [at(*path[-1], angles[-1])] * 20 + [grey] * 30)


def chromium(video):
    """Headless Chromium whose fake camera plays ``video`` (looping)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver, (
        "the browser test needs Chromium and its driver: apt-get install -y chromium chromium-driver"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio",
                "--window-size=1200,800", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console, for PageWait's failures
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


@pytest.fixture(scope="module")
def browser(camera_video):
    chrome = chromium(camera_video)
    yield chrome
    chrome.quit()


@pytest.fixture
def own_browser(camera_video):
    """A browser for one test: no state left by another test's page (a stopped camera track, a replaced
    ``getUserMedia``) can reach it."""
    chrome = chromium(camera_video)
    yield chrome
    chrome.quit()


def screenshot(browser, name: str, element: str | None = None) -> None:
    """By hand, for the README (``LANDMARK_ASL_SCREENSHOTS=docs``): the page as it is now (scrolled to
    ``element``, else the top), the photo blurred."""
    folder = os.environ.get("LANDMARK_ASL_SCREENSHOTS")
    if folder:
        browser.execute_script("document.getElementById('frame').style.filter = 'blur(20px)';"
                               "if (arguments[0]) document.getElementById(arguments[0]).scrollIntoView();"
                               "else scrollTo(0, 0);", element)
        time.sleep(0.3)
        browser.save_screenshot(os.path.join(folder, f"serve_{name}.png"))
        browser.execute_script("document.getElementById('frame').style.filter = '';")


class PageWait:
    """``WebDriverWait`` whose ``message`` may be a callable, called on a timeout; the failure also
    holds the page's console, so that a failure in CI says where the page stood."""

    def __init__(self, browser, timeout: float, poll_frequency: float = 0.5):
        from selenium.webdriver.support.ui import WebDriverWait

        self.browser, self.timeout = browser, timeout
        self.wait = WebDriverWait(browser, timeout, poll_frequency=poll_frequency)

    def until(self, condition, message=""):
        from selenium.common.exceptions import TimeoutException

        try:
            return self.wait.until(condition)
        except TimeoutException:
            said = message() if callable(message) else message
            console = [f"{e.get('level')}: {e.get('message')}" for e in self.browser.get_log("browser")][-20:]
            raise AssertionError(f"not within {self.timeout} s: {said}; page console: {console}") from None


def page_state(browser) -> dict:
    return browser.execute_script(
        "const s = window.landmarkAsl; return {text: s.text, sent: s.sent, frames: s.frames, handFrames: s.handFrames, fps: s.fps,"
        " latency: s.latency, status: document.getElementById('status').textContent,"
        " shown: document.getElementById('text').textContent, model: document.getElementById('model').textContent,"
        " suggestions: [...document.querySelectorAll('#suggestions button')].map((b) => b.textContent),"
        " banner: document.getElementById('banner').hidden ? '' : document.getElementById('banner').textContent,"
        " offline: document.body.classList.contains('offline'), top: document.getElementById('top3').textContent,"
        " camera: document.getElementById('cameraMessage').hidden ? '' : document.getElementById('cameraMessage').textContent,"
        " longestTrail: s.longestTrail, hints: s.hints, candidate: document.getElementById('candidate').textContent};"
    )


@pytest.mark.slow
def test_page_spells_the_word_shown_to_the_camera(server_url, browser):
    from selenium.webdriver.common.by import By
    browser.get(server_url + "/")  # the default view: mirrored, as a selfie camera is shown
    # The video lasts about 7 s and loops; a minute is far more than one pass needs. The state is read
    # in the same call as the text, before the next pass spells on.
    states = []
    PageWait(browser, 60, poll_frequency=0.2).until(
        lambda b: len(states.append(page_state(b)) or states[-1]["text"]) >= len(WORD),
        message=lambda: f"page never spelled {WORD}: {page_state(browser)}",
    )
    state = states[-1]
    screenshot(browser, "page")
    screenshot(browser, "chart", "chart")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart canvas")) == 26  # the handshape chart, A..Z
    assert state["text"].startswith(WORD), state
    assert state["shown"] == state["text"]
    assert state["model"].startswith("Model: random forest, 26 letters, built "), state["model"]
    assert state["handFrames"] >= 20 and state["fps"] > 0 and state["latency"] > 0
    assert state["status"].startswith("connected")
    assert state["top"].startswith("O") or state["top"] == "", state["top"]  # the top three, best first
    # Words for what was spelled, as buttons; choosing one replaces the word, never silently.
    assert WORD in state["suggestions"] and len(state["suggestions"]) == 3, state
    button = next(b for b in browser.find_elements(By.CSS_SELECTOR, "#suggestions button") if b.text == WORD)
    browser.execute_script("window.landmarkAsl.text = 'HELP';")
    button.click()
    assert page_state(browser)["shown"].startswith("HELLO ")
    # Long words wrap inside the panel, which stays beside the camera (1200 px wide window).
    panel = "const r = document.querySelector('.panel').getBoundingClientRect(); return [r.top, r.left];"
    beside = browser.execute_script(panel)
    browser.execute_script("showSuggestions(['INSTITUTIONALIZATION', 'INTERNATIONALIZATION', 'COUNTERREVOLUTIONARIES']);")
    assert browser.execute_script(panel) == beside and beside[1] > 600, beside

    # A frame the canvas cannot encode (toBlob gives null, once) is skipped: the stream goes on.
    browser.execute_script("const real = HTMLCanvasElement.prototype.toBlob; let once = true;"
                           "HTMLCanvasElement.prototype.toBlob = function (callback, ...rest) {"
                           "  if (once) { once = false; callback(null); return; }"
                           "  return real.call(this, callback, ...rest); };")
    frames = page_state(browser)["frames"]
    PageWait(browser, 10, poll_frequency=0.1).until(lambda b: page_state(b)["frames"] > frames + 5,
                                                    message=lambda: f"the stream stopped: {page_state(browser)}")

    # The text buttons edit the page's text: the camera is stopped first (the looping video would go on
    # spelling between the clicks) and the frame in flight is waited for.
    browser.execute_script("const s = window.landmarkAsl; s.stream.getTracks().forEach((t) => t.stop()); s.stream = null;")
    PageWait(browser, 10, poll_frequency=0.1).until(
        lambda b: not b.execute_script("return window.landmarkAsl.inFlight"), message="a frame stayed in flight")
    browser.find_element(By.ID, "clear").click()
    assert page_state(browser)["text"] == ""
    # Edits and clears are numbered: until the newest is answered, a result sent before it (a letter,
    # the old text) and the answer to an older edit are not shown; they would undo the user's edit.
    PageWait(browser, 10, poll_frequency=0.1).until(
        lambda b: b.execute_script("return !textPending()"), message="the clear was never answered")
    shown = browser.execute_script(
        "const s = window.landmarkAsl; setText('HEL');"
        " applyCommitted({committed: 'X', text: 'HELLO X'});"
        " onMessage({type: 'edited', text: 'HELL', seq: s.textSeq - 1, suggestions: []});"
        " return document.getElementById('text').textContent;")
    assert shown == "HEL"
    PageWait(browser, 10, poll_frequency=0.1).until(
        lambda b: b.execute_script("return !textPending()"), message="the edit was never answered")
    assert page_state(browser)["shown"] == "HEL"  # the server's answer: HEL
    # Once answered, a result's text is the text again (the server's, after a frame on its way).
    browser.execute_script("applyCommitted({committed: 'X', text: 'HELX'});")
    assert page_state(browser)["shown"] == "HELX"
    browser.find_element(By.ID, "clear").click()
    PageWait(browser, 10, poll_frequency=0.1).until(  # else its answer could empty the text set below
        lambda b: b.execute_script("return !textPending()"), message="the clear was never answered")
    browser.execute_script("window.landmarkAsl.text = 'AB';")
    browser.find_element(By.ID, "backspace").click()
    assert page_state(browser)["shown"] == "A"
    browser.find_element(By.ID, "space").click()
    assert page_state(browser)["shown"] == "A "

    # A missing camera is said in plain words inside the video box.
    browser.execute_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('gone', 'NotFoundError'));")
    browser.find_element(By.ID, "start").click()
    PageWait(browser, 10).until(lambda b: page_state(b)["camera"], message="no camera message")
    assert page_state(browser)["camera"].startswith("No camera was found. Connect a camera")
    screenshot(browser, "camera_error")


@pytest.mark.slow
def test_page_reconnects_after_a_server_restart_with_frozen_greyed_readouts(camera_video):
    from landmark_asl.model.store import load_model
    from landmark_asl.serve.app import create_app

    model = load_model()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    chrome = chromium(camera_video)
    try:
        with serving(create_app(model), port) as url:
            chrome.get(url + "/")
            PageWait(chrome, 30).until(lambda b: page_state(b)["frames"] > 5, message="no frame came back")
            assert page_state(chrome)["banner"] == "" and not page_state(chrome)["offline"]
        # The server stopped: a banner says so, the readouts are greyed and stay as they were.
        PageWait(chrome, 15).until(lambda b: page_state(b)["banner"], message="no banner after the server stopped")
        down = page_state(chrome)
        assert down["banner"].startswith("Connection to the recognizer lost") and down["offline"], down
        assert down["status"] == "disconnected"
        screenshot(chrome, "reconnecting")
        time.sleep(1.0)
        assert page_state(chrome)["frames"] == down["frames"]  # frozen
        # Started again on the same port: the page reconnects by itself and spells on.
        with serving(create_app(model), port):
            PageWait(chrome, 30).until(lambda b: not page_state(b)["banner"] and page_state(b)["frames"] > down["frames"] + 5,
                                       message=lambda: f"never reconnected: {page_state(chrome)}")
            up = page_state(chrome)
            assert not up["offline"] and up["status"] == "connected"
    finally:
        chrome.quit()


@pytest.mark.slow
def test_page_draws_the_trail_of_a_j_and_spells_it(server_url, data_dir, tmp_path):
    from selenium.webdriver.common.by import By
    chrome = chromium(write_mjpeg(tmp_path / "j.mjpeg", j_frames(data_dir)))
    try:
        chrome.get(server_url + "/")
        PageWait(chrome, 60, poll_frequency=0.1).until(lambda b: page_state(b)["longestTrail"] >= 5,
                                                       message=lambda: f"no trail: {page_state(chrome)}")
        screenshot(chrome, "trail")
        PageWait(chrome, 60, poll_frequency=0.2).until(lambda b: "J" in page_state(b)["text"],
                                                       message=lambda: f"no J: {page_state(chrome)}")
        # The page may have joined the looping video mid-stroke: from a clear text, one whole pass
        # (I held, then drawn as a J) spells J alone, the I it held first replaced by the J.
        chrome.find_element(By.ID, "clear").click()
        PageWait(chrome, 60, poll_frequency=0.1).until(lambda b: "J" in page_state(b)["text"],
                                                       message=lambda: f"no second J: {page_state(chrome)}")
        assert page_state(chrome)["text"] == "J"
    finally:
        chrome.quit()


@pytest.mark.slow
def test_page_records_samples_builds_and_uses_a_personal_model(small_base, tmp_path, own_browser):
    """Collect mode from the page: samples recorded from the camera, a personal model built and used."""
    from selenium.webdriver.common.by import By

    from landmark_asl.model.store import load_model
    from landmark_asl.serve.app import ServeSettings, create_app
    from landmark_asl.training.collect import read_samples

    browser = own_browser
    personal = tmp_path / "personal"
    settings = ServeSettings(personal_dir=personal, cache_dir=small_base["cache"], adapt_jobs=1)

    def collect_state(b) -> dict:
        return b.execute_script(
            "const s = window.landmarkAsl; return {collecting: s.collecting, collect: s.collect, summary: s.collectSummary,"
            " adapted: s.adapted, model: document.getElementById('model').textContent,"
            " status: document.getElementById('collectStatus').textContent,"
            " prompt: document.getElementById('prompt').hidden ? '' : document.getElementById('promptLetter').textContent};"
        )

    with serving(create_app(small_base["base"], settings)) as url:
        browser.get(url + "/")
        PageWait(browser, 30).until(lambda b: page_state(b)["frames"] > 0, message="no frame came back")
        for field, value in (("signer", "tester"), ("letters", "A,V"), ("perLetter", "3"), ("countdown", "1"),
                             ("every", "1")):
            element = browser.find_element(By.ID, field)
            if field in ("countdown", "every"):  # inside the closed "timing" section
                browser.execute_script("arguments[0].value = arguments[1];", element, value)
            else:
                element.clear()
                element.send_keys(value)
        browser.find_element(By.ID, "collectStart").click()
        # Shown from the collect reply on, through the countdown (1 s).
        PageWait(browser, 10, poll_frequency=0.02).until(lambda b: collect_state(b)["prompt"] == "A",
                                                         message=lambda: f"no prompt: {collect_state(browser)}")
        browser.set_window_size(1200, 1000)  # the whole panel
        screenshot(browser, "collect")
        # The fake camera shows its hands; the page records every frame with one until both letters have 3.
        PageWait(browser, 60, poll_frequency=0.2).until(
            lambda b: collect_state(b)["summary"] is not None, message=lambda: f"never done: {collect_state(browser)} {page_state(browser)}")
        summary = collect_state(browser)["summary"]
        assert summary["counts"] == {"A": 3, "V": 3} and summary["n_samples"] == 6 and summary["signer"] == "tester"
        assert "6 samples of tester saved" in collect_state(browser)["status"]
        table = read_samples(personal / "tester" / "samples.parquet")
        assert list(table["label"]) == ["A"] * 3 + ["V"] * 3 and table["detected"].all()

        browser.find_element(By.ID, "adapt").click()
        PageWait(browser, 120, poll_frequency=0.5).until(
            lambda b: "personal: tester" in collect_state(b)["model"], message=lambda: f"no model: {collect_state(browser)} {page_state(browser)}")
        state = collect_state(browser)
        assert state["adapted"]["sample_counts"] == {"A": 3, "V": 3} and "using the personal model" in state["status"]
        assert load_model(personal / "tester" / "model").card.training["adapted"]["signer"] == "tester"

        browser.find_element(By.ID, "useBase").click()
        PageWait(browser, 10).until(lambda b: "personal" not in collect_state(b)["model"],
                                    message=lambda: f"base not taken up: {collect_state(browser)}")
        browser.find_element(By.ID, "usePersonal").click()
        PageWait(browser, 10).until(lambda b: "personal: tester" in collect_state(b)["model"],
                                    message=lambda: f"personal model not taken up: {collect_state(browser)}")
