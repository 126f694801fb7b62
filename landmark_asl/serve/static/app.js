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
const RECONNECT_MS = [500, 1000, 2000, 4000]; // then every 4 s
const ESTIMATOR_NAMES = { rf: "random forest", rf_mlp: "random forest and neural network", mlp: "neural network", xgb: "gradient-boosted trees", cnn: "pixel CNN", knn: "nearest neighbours" };
// A camera refusal in plain words: what happened and what to do (shown inside the video box).
const CAMERA_ERRORS = {
  NotAllowedError: "The browser blocked the camera. Allow it for this page (the camera icon in the address bar), then press start camera.",
  SecurityError: "The browser allows the camera only on https or on localhost. Open this page as http://localhost:PORT or serve it over https.",
  NotFoundError: "No camera was found. Connect a camera (or enable it in the system settings), then press start camera.",
  NotReadableError: "The camera is in use by another program (a video call?). Close it, then press start camera.",
  OverconstrainedError: "The camera cannot deliver a usable picture size. Try another camera, then press start camera.",
  AbortError: "The camera stopped while starting. Press start camera to try again.",
};

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
  ws: null, stream: null, live: { stable_frames: 8 }, inFlight: false, sentAt: 0, sent: 0,
  // Edits and clears are numbered: textSeq the last sent, textAcked the last answered.
  textSeq: 0, textAcked: 0, maxText: 2000,
  text: "", frames: 0, handFrames: 0, fps: 0, lastResultAt: 0, latency: 0, serverMs: 0, runLabel: null, runLength: 0,
  // Collect mode: the recorder's state while recording, the last summary, the model in use.
  collecting: false, collect: null, collectSummary: null, adapting: false, adapted: null,
  baseModel: null, modelLabel: null, modelCard: "",
  // Connection: reconnect after a lost connection, with the readouts frozen and greyed meanwhile.
  connected: false, retries: 0, retryTimer: null, suggestions: [], shapes: null, longestTrail: 0, hints: 0,
};
window.landmarkAsl = state; // for the browser tests and the console

function setStatus(message, ok = false) {
  $("status").textContent = message;
  $("status").className = ok ? "status ok" : "status";
}

function showText() {
  $("text").textContent = state.text;
  $("text").scrollTop = $("text").scrollHeight;
}

function notice(message) {
  // A passing message ("text copied") that leaves the connection status alone.
  $("notice").textContent = message;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { $("notice").textContent = ""; }, 2500);
}

function setText(text) {
  // The user edited the text (space, backspace, a suggestion): the server spells on from it. `base`
  // is the text edited: a letter committed by a frame still on its way is kept after the edit.
  const base = state.text;
  state.text = text.slice(0, state.maxText); // the server holds no more (hello's limits)
  showText();
  if (state.ws && state.ws.readyState === WebSocket.OPEN) sendTextCommand({ type: "edit", text: state.text, base });
  else showSuggestions([]);
}

function sendTextCommand(command) {
  // An edit or a clear, numbered. Until the newest is answered, the answers to older ones and the
  // texts of results sent before it are not shown: they would undo what the user just did (the
  // newest answer holds the letters they committed, see "base").
  state.textSeq += 1;
  state.ws.send(JSON.stringify({ ...command, seq: state.textSeq }));
}

function textPending() {
  return state.textAcked < state.textSeq;
}

function takeTextAnswer(msg) {
  // Whether an "edited" / "cleared" answer is the newest (one without a number, from an older server, is).
  if (typeof msg.seq !== "number") { state.textAcked = state.textSeq; return true; }
  state.textAcked = Math.max(state.textAcked, msg.seq);
  return msg.seq === state.textSeq;
}

function showSuggestions(words) {
  state.suggestions = words || [];
  const box = $("suggestions");
  box.replaceChildren(...state.suggestions.map((word) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = word;
    button.title = `replace the last word with ${word}`;
    button.onclick = () => setText(state.text.replace(/[^ ]*$/, word) + " ");
    return button;
  }));
}

function applyCommitted(msg) {
  // The server's text is the text: it applies SPACE/DEL and replaces the I held before a J with the
  // J. The page's own edits (space, backspace, a chosen word) reach it first as "edit" commands.
  if (textPending()) return; // the answer to the user's edit brings this letter (see sendTextCommand)
  state.text = typeof msg.text === "string" ? msg.text : state.text + msg.committed;
  showText();
}

async function loadModel() {
  try {
    const response = await fetch("/api/model");
    const card = await response.json();
    if (!response.ok) throw new Error(card.error || response.statusText);
    state.modelCard = friendlyModel(card);
    if (!state.modelLabel || state.modelLabel === state.baseModel) $("model").textContent = state.modelCard;
    $("model").title = `${card.name}, ${card.classes.length} classes${card.calibration ? ", calibrated" : ""}, ` +
      `created ${card.created_at || "?"}`;
  } catch (err) {
    $("model").textContent = `model: unavailable (${err.message})`;
  }
}

function friendlyModel(card) {
  const kind = ESTIMATOR_NAMES[card.name] || card.name;
  const letters = card.classes.filter((c) => c.length === 1).length;
  const built = card.created_at ? `, built ${new Date(card.created_at).toLocaleDateString(undefined, { day: "numeric", month: "short", year: "numeric" })}` : "";
  return `Model: ${kind}, ${letters} letters${built}`;
}

function connect() {
  clearTimeout(state.retryTimer);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  state.inFlight = false;
  if (!state.retries) setStatus("connecting...");
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = (event) => {
    if (state.ws !== ws) return;
    // The server says why it closed (too many connections, another site) in the close reason.
    const why = event.reason ? `: ${event.reason}` : "";
    state.connected = false;
    document.body.classList.add("offline");
    const wait = RECONNECT_MS[Math.min(state.retries, RECONNECT_MS.length - 1)];
    state.retries += 1;
    $("banner").hidden = false;
    $("banner").textContent = `Connection to the recognizer lost${why}. Reconnecting in ${(wait / 1000).toFixed(1)} s ` +
      `(try ${state.retries}); the readouts below are frozen until then.`;
    setStatus("disconnected");
    state.retryTimer = setTimeout(connect, wait);
    updateCollectButtons();
  };
  ws.onerror = () => {}; // onclose follows and reconnects
}

function onMessage(msg) {
  if (msg.type === "hello") {
    state.live = msg.live;
    if (msg.limits && msg.limits.max_text_chars) state.maxText = msg.limits.max_text_chars;
    state.baseModel = msg.model;
    state.collecting = false; // a new connection: no recording, no build of this page in progress
    state.adapting = false;
    $("prompt").hidden = true;
    const reconnected = state.retries > 0;
    state.connected = true;
    showModel(msg.model);
    setupCollect(msg.collect);
    setStatus("connected", true);
    state.retries = 0;
    $("banner").hidden = true;
    document.body.classList.remove("offline");
    if (reconnected) notice("reconnected");
    state.textAcked = state.textSeq; // nothing of the old connection will be answered
    if (state.text) sendTextCommand({ type: "edit", text: state.text }); // spell on from the page's text
    startCamera();
  } else if (msg.type === "result") {
    onResult(msg);
  } else if (msg.type === "edited" || msg.type === "cleared") {
    if (!takeTextAnswer(msg)) return; // a newer edit is on its way: its answer follows
    state.text = msg.text; // the server's text: a result sent before may have shown a letter meanwhile
    showText();
    showSuggestions(msg.suggestions || []);
  } else if (COLLECT_MESSAGES.has(msg.type)) {
    onCollectMessage(msg);
  } else if (msg.type === "error" && (msg.command === "edit" || msg.command === "clear")) {
    state.textAcked = state.textSeq; // refused: no answer to wait for
    if (typeof msg.text === "string") { state.text = msg.text; showText(); } // the server's text stands
    setStatus(msg.error);
  } else if (msg.type === "error" && msg.command) {
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
    state.stream = null;
    showCameraMessage(CAMERA_ERRORS[err.name] || `The camera could not start (${err.name || err}). Check it, then press start camera.`);
    setStatus("camera unavailable");
    return;
  }
  showCameraMessage("");
  video.srcObject = state.stream;
  await video.play();
  const width = Math.min(FRAME_WIDTH, video.videoWidth || FRAME_WIDTH);
  const height = Math.round(width * (video.videoHeight || 480) / (video.videoWidth || 640));
  for (const canvas of [capture, frameCanvas, overlay]) { canvas.width = width; canvas.height = height; }
  document.querySelector(".stage").style.aspectRatio = `${width} / ${height}`;
  sendFrame();
}

function showCameraMessage(message) {
  $("cameraMessage").textContent = message;
  $("cameraMessage").hidden = !message;
}

function sendFrame() {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || state.inFlight || !state.stream || video.readyState < 2) {
    if (state.stream && ws && ws.readyState === WebSocket.OPEN && !state.inFlight) setTimeout(sendFrame, 30);
    return;
  }
  state.inFlight = true; // back-pressure: one frame at a time, the next when this result arrives
  // The frame as the camera gives it, like `landmark-asl live`; "mirror view" only flips what is shown.
  captureCtx.drawImage(video, 0, 0, capture.width, capture.height);
  capture.toBlob((blob) => {
    if (!blob || ws.readyState !== WebSocket.OPEN) { // no image this time: try again, or wait for the reconnect
      state.inFlight = false;
      if (ws.readyState === WebSocket.OPEN) setTimeout(sendFrame, 30);
      return;
    }
    state.sentAt = performance.now();
    state.sent += 1;
    ws.send(blob);
  }, "image/jpeg", JPEG_QUALITY);
}

function drawTrail(trail) {
  // The fingertip's path while a J or Z handshape moves: older points fainter.
  if (!trail || trail.length < 2) return;
  overlayCtx.lineWidth = 6;
  overlayCtx.lineCap = "round";
  for (let i = 1; i < trail.length; i++) {
    overlayCtx.strokeStyle = `rgba(251, 188, 4, ${0.25 + 0.75 * i / trail.length})`;
    overlayCtx.beginPath();
    overlayCtx.moveTo(trail[i - 1][0] * overlay.width, trail[i - 1][1] * overlay.height);
    overlayCtx.lineTo(trail[i][0] * overlay.width, trail[i][1] * overlay.height);
    overlayCtx.stroke();
  }
}

function drawHand(hand, trail) {
  overlayCtx.clearRect(0, 0, overlay.width, overlay.height);
  drawTrail(trail);
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
  sendFrame(); // the next frame goes out while this result is shown (first: nothing below can stop the stream)
  drawHand(msg.hand, msg.trail);

  const label = msg.label;
  $("letter").textContent = label ? (SHOWN[label] || label) : "-";
  $("letter").title = label || "no letter";
  // A still J or Z cannot commit: greyed, with what to do instead of an empty hold bar.
  $("letter").classList.toggle("motion", !!msg.hint);
  $("confidence").textContent = `${Math.round(100 * (msg.confidence || 0))}%`;
  $("progress").style.width = msg.hint ? "0%" : `${Math.round(100 * holdProgress(msg))}%`;
  const candidate = $("candidate");
  if (msg.trail) state.longestTrail = Math.max(state.longestTrail, msg.trail.length);
  if (msg.hint) state.hints += 1;
  if (msg.trail && msg.trail.length > 1) candidate.innerHTML = `<span class="hint">drawing ${msg.trail_letter}...</span>`;
  else if (msg.hint) candidate.innerHTML = `<span class="hint">${msg.hint} in the air</span>`;
  else candidate.textContent = msg.candidate ? `holding ${msg.candidate}` : "";
  showTop(msg.top);
  // The frame is the camera's own, so the label is the signer's hand (see README, "Handedness").
  $("hand").textContent = msg.hand ? `${msg.hand.handedness.toLowerCase()} hand` : "no hand";
  $("fps").textContent = state.fps.toFixed(1);
  $("latency").textContent = state.latency.toFixed(0);
  $("server").textContent = state.serverMs.toFixed(0);
  if (msg.model && msg.model !== state.modelLabel) showModel(msg.model);
  if (msg.full) notice(`the text is full (${state.text.length.toLocaleString()} characters): copy or clear it`);
  if (msg.collect) showCollect(msg.collect);
  else if (msg.committed && !textPending()) {
    applyCommitted(msg);
    showSuggestions(msg.suggestions);
  }
}

function showTop(top) {
  const list = $("top3");
  list.replaceChildren(...(top || []).map(([label, p]) => {
    const item = document.createElement("li");
    item.innerHTML = `<b>${SHOWN[label] || label}</b> ${Math.round(100 * p)}%`;
    return item;
  }));
}

// --- the handshape chart: each letter's median hand, drawn from handshapes.json ---------------

function drawShape(canvas, points, label) {
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!points) return;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = 0.8 * Math.min(canvas.width, canvas.height) / Math.max(x1 - x0, y1 - y0, 1e-6);
  const ox = canvas.width / 2 - scale * (x0 + x1) / 2;
  const oy = canvas.height / 2 - scale * (y0 + y1) / 2;
  const at = ([x, y]) => [ox + scale * x, oy + scale * y];
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#e8eaed";
  ctx.beginPath();
  for (const [a, b] of HAND_CONNECTIONS) { ctx.moveTo(...at(points[a])); ctx.lineTo(...at(points[b])); }
  ctx.stroke();
  ctx.fillStyle = "#ea4335";
  for (const tip of [4, 8, 12, 16, 20]) { ctx.beginPath(); ctx.arc(...at(points[tip]), 2.5, 0, 2 * Math.PI); ctx.fill(); }
  if (label === "J" || label === "Z") { // motion letters: an arrow says "draw it"
    ctx.fillStyle = "#fbbc04";
    ctx.font = "bold 11px system-ui";
    ctx.fillText("+ draw", 2, canvas.height - 4);
  }
}

async function loadShapes() {
  try {
    const response = await fetch("handshapes.json");
    if (!response.ok) throw new Error(response.statusText);
    state.shapes = await response.json();
  } catch (err) {
    $("chartSource").textContent = `handshape chart unavailable (${err.message})`;
    return;
  }
  const figures = Object.entries(state.shapes.letters).map(([label, points]) => {
    const figure = document.createElement("figure");
    const canvas = document.createElement("canvas");
    canvas.width = 64; canvas.height = 64; canvas.className = "shape";
    drawShape(canvas, points, label);
    const caption = document.createElement("figcaption");
    caption.textContent = label;
    figure.append(canvas, caption);
    return figure;
  });
  $("chart").replaceChildren(...figures);
  $("chartSource").textContent = `Each letter is the median right hand, as a camera facing the signer sees it, of ${state.shapes.source}.`;
}

// --- collect mode: record your own samples, build and use a personal model -----------------

const COLLECT_MESSAGES = new Set(["collect", "collect_stopped", "adapting", "adapt_progress", "adapted", "using"]);

function showModel(label) {
  state.modelLabel = label;
  if (state.baseModel !== null) updateCollectButtons();
  $("model").textContent = label === state.baseModel && state.modelCard ? state.modelCard : `model: ${label}`;
}

function frameRate() {
  return state.fps > 1 ? state.fps : 15;
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
  state.signers = settings.signers || {};
  $("signer").oninput = updateCollectButtons;
  const saved = localStorage.getItem("landmarkAslSigner");
  if (saved) $("signer").value = saved;
  updateCollectButtons();
}

function signerOnDisk() {
  // What the server said it holds for the name typed (samples, a built model), updated by this page's own work.
  const name = $("signer").value.trim();
  return (state.signers && state.signers[name]) || { samples: false, model: false };
}

function updateCollectButtons() {
  for (const id of ["collectRedo", "collectSkip", "collectStop"]) $(id).disabled = !state.collecting;
  $("collectStart").disabled = state.collecting || !state.connected;
  const known = signerOnDisk();
  // Building needs samples and no build or recording in progress; a personal model is used once one is built.
  $("adapt").disabled = !state.connected || state.adapting || state.collecting || !known.samples;
  $("adapt").title = known.samples ? "retrain the model with your samples weighing more" : "record samples first";
  $("usePersonal").disabled = !state.connected || state.adapting || !known.model;
  $("usePersonal").title = known.model ? "the personal model built earlier for this name" : "build your model first";
  $("useBase").disabled = !state.connected || state.modelLabel === state.baseModel;
}

function markSigner(name, field) {
  state.signers = state.signers || {};
  state.signers[name] = { ...(state.signers[name] || { samples: false, model: false }), [field]: true };
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
  drawShape($("promptShape"), state.shapes && state.shapes.letters[collect.letter], collect.letter);
  // The server counts the wait in frames; the page shows it in seconds at the frame rate it measures.
  $("promptText").textContent = collect.countdown > 0
    ? `get ready: form ${collect.letter} (${(collect.countdown / frameRate()).toFixed(1)} s)`
    : `${collect.count} / ${collect.per_letter} recorded`;
  $("promptBar").style.width = `${Math.round(100 * collect.count / collect.per_letter)}%`;
  $("prompt").classList.toggle("recorded", !!collect.recorded);
  setCollectStatus(`letter ${collect.position + 1} of ${collect.letters.length}; hold it in view, move it a little`, true);
}

function endCollect(summary) {
  state.collecting = false;
  state.collectSummary = summary;
  if (summary.n_samples) markSigner(summary.signer, "samples");
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
    state.build = { signer: msg.signer, started: performance.now(), estimate: msg.estimate_s, phase: "starting" };
    clearInterval(state.buildTimer);
    state.buildTimer = setInterval(showBuild, 500);
    showBuild();
  } else if (msg.type === "adapt_progress") {
    if (state.build) { state.build.phase = msg.phase; showBuild(); }
  } else if (msg.type === "adapted") {
    clearInterval(state.buildTimer);
    state.adapting = false;
    state.adapted = msg;
    markSigner(msg.signer, "model");
    updateCollectButtons();
    // The real time from the press of the button, reading (or extracting) the base landmarks included.
    const built = `${msg.n_samples} samples, built in ${(msg.elapsed_s ?? msg.seconds).toFixed(0)} s, saved in ${msg.directory}`;
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

function showBuild() {
  // Phase, elapsed time and an estimate from the server (its last build), with a bar against the estimate.
  const b = state.build;
  if (!b || !state.adapting) return;
  const elapsed = (performance.now() - b.started) / 1000;
  const estimate = b.estimate ? `, about ${Math.round(b.estimate)} s in all` : " (the first build also reads the dataset landmarks: it takes longest)";
  setCollectStatus(`building the model of ${b.signer}: ${b.phase}; ${elapsed.toFixed(0)} s so far${estimate}. Keep signing meanwhile.`, true);
  $("promptBar").style.width = b.estimate ? `${Math.min(95, Math.round(100 * elapsed / b.estimate))}%` : "0%";
}

function onCollectError(msg) {
  if (msg.command === "adapt") { state.adapting = false; clearInterval(state.buildTimer); }
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
  per_letter: Number($("perLetter").value), every: Number($("every").value),
  countdown: Math.round(Number($("countdown").value) * frameRate()), // seconds -> frames at the current rate
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
  showSuggestions([]);
  if (state.ws && state.ws.readyState === WebSocket.OPEN) sendTextCommand({ type: "clear" });
};
$("backspace").onclick = () => setText(state.text.slice(0, -1));
$("space").onclick = () => setText(state.text + " ");
$("copy").onclick = async () => {
  try {
    await navigator.clipboard.writeText(state.text);
    notice("text copied");
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
const showMirror = () => document.querySelector(".stage").classList.toggle("mirrored", $("mirror").checked);
$("mirror").onchange = showMirror;
showMirror();

loadModel();
loadShapes();
connect();
