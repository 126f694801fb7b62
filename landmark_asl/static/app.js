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
    $("model").textContent = `model: ${card.name} (${card.classes.length} classes${calibrated}) ${card.created_at || ""}`;
    $("model").title = card.directory || "";
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
    setStatus(`connected to ${msg.model}`, true);
    startCamera();
  } else if (msg.type === "result") {
    onResult(msg);
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
  if (msg.committed) applyCommitted(msg.committed);
}

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
