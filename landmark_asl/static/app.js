// landmark-asl live page: camera -> JPEG over a WebSocket -> per-frame results from the server.
// Plain script, no build step, nothing fetched from outside this server.
"use strict";

const HAND_CONNECTIONS = [
  [0, 1], [1, 2], [2, 3], [3, 4], [0, 5], [5, 6], [6, 7], [7, 8], [5, 9], [9, 10], [10, 11],
  [11, 12], [9, 13], [13, 14], [14, 15], [15, 16], [13, 17], [0, 17], [17, 18], [18, 19], [19, 20],
];
const SHOWN = { SPACE: "\u2423", DEL: "\u232b", NOTHING: "\u2205" };
const FRAME_WIDTH = 640;
const JPEG_QUALITY = 0.8;

const $ = (id) => document.getElementById(id);
const frameCanvas = $("frame");
const overlay = $("overlay");
const frameCtx = frameCanvas.getContext("2d");
// Frames are drawn into an unseen canvas and sent; the visible one shows the frame whose result
// arrived, so the landmarks drawn over it are that frame's own.
const capture = document.createElement("canvas");
const captureCtx = capture.getContext("2d");
const overlayCtx = overlay.getContext("2d");
const video = document.createElement("video");
video.muted = true;
video.playsInline = true;

const state = {
  ws: null, stream: null, live: { stable_frames: 8 }, inFlight: false, sentAt: 0,
  text: "", frames: 0, handFrames: 0, fps: 0, lastResultAt: 0, latency: 0, serverMs: 0, runLabel: null, runLength: 0,
  // Collect mode: the recorder's state while recording, the last summary, the model in use.
  collecting: false, collect: null, collectSummary: null, adapting: false, adapted: null,
  baseModel: null, modelLabel: null, modelCard: "",
};
window.landmarkAsl = state; // for the browser tests and the console

function setStatus(message, ok = false) {
  $("status").textContent = message;
  $("status").className = ok ? "status ok" : "status";
}

function showText() {
  $("text").textContent = state.text;
}

function applyCommitted(label) {
  // The page owns the text (so backspace works); it mirrors the server's spelling rules.
  if (label === "SPACE") state.text += " ";
  else if (label === "DEL") state.text = state.text.slice(0, -1);
  else if (label !== "NOTHING") state.text += label;
  showText();
}

async function loadModel() {
  try {
    const response = await fetch("/api/model");
    const card = await response.json();
    if (!response.ok) throw new Error(card.error || response.statusText);
    const calibrated = card.calibration ? ", calibrated" : "";
    state.modelCard = `model: ${card.name} (${card.classes.length} classes${calibrated}) ${card.created_at || ""}`;
    if (!state.modelLabel || state.modelLabel === state.baseModel) $("model").textContent = state.modelCard;
  } catch (err) {
    $("model").textContent = `model: unavailable (${err.message})`;
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  state.inFlight = false;
  setStatus("connecting...");
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = (event) => {
    // The server says why it closed (too many connections, another site) in the close reason.
    if (state.ws === ws) setStatus(`disconnected (${event.code}${event.reason ? ": " + event.reason : ""}); press start`);
  };
  ws.onerror = () => setStatus("connection error; is landmark-asl serve running?");
}

function onMessage(msg) {
  if (msg.type === "hello") {
    state.live = msg.live;
    state.baseModel = msg.model;
    state.collecting = false; // a new connection: no recording, no build of this page in progress
    state.adapting = false;
    $("prompt").hidden = true;
    showModel(msg.model);
    setupCollect(msg.collect);
    setStatus(`connected to ${msg.model}`, true);
    startCamera();
  } else if (msg.type === "result") {
    onResult(msg);
  } else if (COLLECT_MESSAGES.has(msg.type)) {
    onCollectMessage(msg);
  } else if (msg.type === "error" && msg.command && msg.command !== "clear") {
    onCollectError(msg);
  } else if (msg.type === "error") {
    setStatus(msg.error);
    if (state.inFlight) {
      state.inFlight = false;
      setTimeout(sendFrame, 100);
    }
  }
}

async function startCamera() {
  if (state.stream) { sendFrame(); return; }
  try {
    state.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
    });
  } catch (err) {
    setStatus(`camera unavailable: ${err.name} (allow the camera, then press start)`);
    return;
  }
  video.srcObject = state.stream;
  await video.play();
  const width = Math.min(FRAME_WIDTH, video.videoWidth || FRAME_WIDTH);
  const height = Math.round(width * (video.videoHeight || 480) / (video.videoWidth || 640));
  for (const canvas of [capture, frameCanvas, overlay]) { canvas.width = width; canvas.height = height; }
  document.querySelector(".stage").style.aspectRatio = `${width} / ${height}`;
  sendFrame();
}

function sendFrame() {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || state.inFlight || !state.stream || video.readyState < 2) {
    if (state.stream && ws && ws.readyState === WebSocket.OPEN && !state.inFlight) setTimeout(sendFrame, 30);
    return;
  }
  state.inFlight = true; // back-pressure: one frame at a time, the next when this result arrives
  captureCtx.save();
  if ($("mirror").checked) { // a selfie view; the server sees the frame exactly as shown
    captureCtx.translate(capture.width, 0);
    captureCtx.scale(-1, 1);
  }
  captureCtx.drawImage(video, 0, 0, capture.width, capture.height);
  captureCtx.restore();
  capture.toBlob((blob) => {
    if (!blob || ws.readyState !== WebSocket.OPEN) { state.inFlight = false; return; }
    state.sentAt = performance.now();
    ws.send(blob);
  }, "image/jpeg", JPEG_QUALITY);
}

function drawHand(hand) {
  overlayCtx.clearRect(0, 0, overlay.width, overlay.height);
  if (!hand) return;
  const points = hand.landmarks.map(([x, y]) => [x * overlay.width, y * overlay.height]);
  overlayCtx.lineWidth = 3;
  overlayCtx.strokeStyle = "rgba(255, 255, 255, 0.9)";
  overlayCtx.beginPath();
  for (const [a, b] of HAND_CONNECTIONS) {
    overlayCtx.moveTo(...points[a]);
    overlayCtx.lineTo(...points[b]);
  }
  overlayCtx.stroke();
  overlayCtx.fillStyle = "#ea4335";
  for (const [x, y] of points) {
    overlayCtx.beginPath();
    overlayCtx.arc(x, y, 4, 0, 2 * Math.PI);
    overlayCtx.fill();
  }
}

function holdProgress(msg) {
  if (typeof msg.progress === "number") return Math.min(1, Math.max(0, msg.progress)); // the server's commit rule
  // Older servers: estimate from the run of identical labels against stable_frames.
  if (msg.label && msg.label === state.runLabel) state.runLength += 1;
  else { state.runLabel = msg.label; state.runLength = msg.label ? 1 : 0; }
  if (!msg.label || msg.label === "NOTHING") return 0;
  return Math.min(1, state.runLength / state.live.stable_frames);
}

function onResult(msg) {
  const now = performance.now();
  state.inFlight = false;
  state.frames += 1;
  state.handFrames += msg.hand ? 1 : 0;
  const roundTrip = now - state.sentAt;
  // Smoothed (exponential mean over about 10 frames), so the numbers can be read.
  state.latency = state.frames === 1 ? roundTrip : 0.9 * state.latency + 0.1 * roundTrip;
  state.serverMs = state.frames === 1 ? msg.server_ms || 0 : 0.9 * state.serverMs + 0.1 * (msg.server_ms || 0);
  if (state.lastResultAt) {
    const fps = 1000 / Math.max(1, now - state.lastResultAt);
    state.fps = state.fps ? 0.9 * state.fps + 0.1 * fps : fps;
  }
  state.lastResultAt = now;
  frameCtx.drawImage(capture, 0, 0); // still this result's frame: the next is captured below
  drawHand(msg.hand);
  sendFrame(); // the next frame goes out while this result is shown

  const label = msg.label;
  $("letter").textContent = label ? (SHOWN[label] || label) : "-";
  $("letter").title = label || "no letter";
  $("confidence").textContent = `${Math.round(100 * (msg.confidence || 0))}%`;
  $("progress").style.width = `${Math.round(100 * holdProgress(msg))}%`;
  $("candidate").textContent = msg.candidate ? `holding ${msg.candidate}` : "";
  $("hand").textContent = msg.hand ? msg.hand.handedness.toLowerCase() : "no";
  $("fps").textContent = state.fps.toFixed(1);
  $("latency").textContent = state.latency.toFixed(0);
  $("server").textContent = state.serverMs.toFixed(0);
  if (msg.model && msg.model !== state.modelLabel) showModel(msg.model);
  if (msg.collect) showCollect(msg.collect);
  else if (msg.committed) applyCommitted(msg.committed);
}

// --- collect mode: record your own samples, build and use a personal model -----------------

const COLLECT_MESSAGES = new Set(["collect", "collect_stopped", "adapting", "adapted", "using"]);

function showModel(label) {
  state.modelLabel = label;
  $("model").textContent = label === state.baseModel && state.modelCard ? state.modelCard : `model: ${label}`;
}

function setCollectStatus(message, ok = false) {
  $("collectStatus").textContent = message;
  $("collectStatus").className = ok ? "status ok" : "status";
}

function setupCollect(settings) {
  if (!settings || !settings.enabled) {
    $("collectPanel").hidden = true; // the server was started with --no-collect
    return;
  }
  $("collectPanel").hidden = false;
  $("perLetter").max = settings.max_per_letter;
  const saved = localStorage.getItem("landmarkAslSigner");
  if (saved) $("signer").value = saved;
  updateCollectButtons();
}

function updateCollectButtons() {
  for (const id of ["collectRedo", "collectSkip", "collectStop"]) $(id).disabled = !state.collecting;
  $("collectStart").disabled = state.collecting;
  $("adapt").disabled = state.adapting;
}

function countsText(counts) {
  const entries = Object.entries(counts || {});
  return entries.length ? entries.map(([k, v]) => `${k}:${v}`).join(" ") : "none";
}

function showCollect(collect) {
  // One frame's recorder state (the `collect` field of a result), or the reply to a command.
  state.collect = collect;
  if (collect.done || collect.samples) { endCollect(collect); return; }
  $("prompt").hidden = false;
  $("promptLetter").textContent = SHOWN[collect.letter] || collect.letter;
  $("promptText").textContent = collect.countdown > 0
    ? `get ready: form ${collect.letter} (${collect.countdown})`
    : `${collect.count} / ${collect.per_letter} recorded`;
  $("promptBar").style.width = `${Math.round(100 * collect.count / collect.per_letter)}%`;
  $("prompt").classList.toggle("recorded", !!collect.recorded);
  setCollectStatus(`letter ${collect.position + 1} of ${collect.letters.length}; hold it in view, move it a little`, true);
}

function endCollect(summary) {
  state.collecting = false;
  state.collectSummary = summary;
  $("prompt").hidden = true;
  updateCollectButtons();
  setCollectStatus(`${summary.n_samples} samples of ${summary.signer} saved (${countsText(summary.counts)}); ` +
    "build your model when you have them all", true);
}

function onCollectMessage(msg) {
  if (msg.type === "collect") {
    state.collecting = true;
    updateCollectButtons();
    showCollect(msg);
  } else if (msg.type === "collect_stopped") {
    endCollect(msg);
  } else if (msg.type === "adapting") {
    state.adapting = true;
    if (state.collecting && msg.counts) endCollect(msg);
    updateCollectButtons();
    setCollectStatus(`building the personal model of ${msg.signer} (about half a minute; keep signing)...`, true);
  } else if (msg.type === "adapted") {
    state.adapting = false;
    state.adapted = msg;
    updateCollectButtons();
    const built = `${msg.n_samples} samples, built in ${msg.seconds.toFixed(0)} s, saved in ${msg.directory}`;
    if (msg.used === false) { // the user chose a model meanwhile: that choice stands
      setCollectStatus(`the personal model of ${msg.signer} is ready (${built}): press use my model`, true);
      return;
    }
    showModel(msg.model);
    setCollectStatus(`using the personal model of ${msg.signer}: ${built}`, true);
  } else if (msg.type === "using") {
    showModel(msg.model);
    setCollectStatus(msg.personal ? `using the personal model of ${msg.personal}` : "using the base model", true);
  }
}

function onCollectError(msg) {
  if (msg.command === "adapt") state.adapting = false;
  if (typeof msg.collecting === "boolean" && msg.collecting !== state.collecting) {
    state.collecting = msg.collecting; // the server says whether a recording goes on
    if (!state.collecting) $("prompt").hidden = true;
  }
  updateCollectButtons();
  setCollectStatus(msg.error);
}

function sendCommand(command) {
  if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
    setCollectStatus("not connected: press start camera");
    return;
  }
  state.ws.send(JSON.stringify(command));
}

function signerName() {
  const name = $("signer").value.trim();
  localStorage.setItem("landmarkAslSigner", name);
  return name;
}

$("collectStart").onclick = () => sendCommand({
  type: "collect", signer: signerName(), letters: $("letters").value,
  per_letter: Number($("perLetter").value), countdown: Number($("countdown").value), every: Number($("every").value),
});
$("collectRedo").onclick = () => sendCommand({ type: "collect_redo" });
$("collectSkip").onclick = () => sendCommand({ type: "collect_skip" });
$("collectStop").onclick = () => sendCommand({ type: "collect_stop" });
$("adapt").onclick = () => sendCommand({ type: "adapt", signer: signerName() });
$("usePersonal").onclick = () => sendCommand({ type: "use", model: "personal", signer: signerName() });
$("useBase").onclick = () => sendCommand({ type: "use", model: "base" });

$("clear").onclick = () => {
  state.text = "";
  showText();
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify({ type: "clear" }));
};
$("backspace").onclick = () => { state.text = state.text.slice(0, -1); showText(); };
$("copy").onclick = async () => {
  try {
    await navigator.clipboard.writeText(state.text);
    setStatus("text copied", true);
  } catch (err) {
    const range = document.createRange();
    range.selectNodeContents($("text"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    setStatus("copy refused by the browser: the text is selected, press Ctrl-C");
  }
};
$("start").onclick = () => {
  if (!state.ws || state.ws.readyState > WebSocket.OPEN) connect();
  else startCamera();
};
const mirrorParam = new URLSearchParams(location.search).get("mirror");
if (mirrorParam !== null) $("mirror").checked = mirrorParam !== "0";

loadModel();
connect();
