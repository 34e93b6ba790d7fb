/* sentilstm page: try a text, score a file, watch the feedback trend. Talks to the app's JSON API; every piece
   of user or model text reaches the page through textContent, never innerHTML. */
"use strict";

(() => {
  const { labelColours, distribution, timeSeries, legend, tooltip, parsePeriod, floorPeriod, addPeriods, fmtCount, fmtShare } = window.Charts;
  const MAX_UPLOAD_BYTES = Number(document.body.dataset.maxUpload) || 50 * 1024 * 1024; // the server's limit, checked here to fail fast
  const TREND_EVERY_MS = 5000;
  const TREND_WINDOWS = { minute: [60, "the last hour"], hour: [48, "the last 48 hours"], day: [60, "the last 60 days"] }; // periods shown
  const METHOD_NAMES = { integrated_gradients: "integrated gradients", kernel_shap: "KernelSHAP", lime: "LIME", attention: "attention weights" };
  const $ = (id) => document.getElementById(id);
  const state = { labels: [], colours: {}, analysed: null, explanation: null, explainLabel: null, upload: null,
    charts: {}, trend: { interval: "hour", source: "", last: "", timer: null, sources: new Set(["web"]) } };

  // ----- helpers -----------------------------------------------------------------------------------------------
  function el(tag, { className, text, attrs } = {}, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    children.forEach((c) => c && node.appendChild(c));
    return node;
  }

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  function errorText(body, status, statusText) {
    const detail = body && body.detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".") || "request"}: ${d.msg}`).join("; ");
    if (status === 413) return "The file is too large for the page.";
    return `The server answered ${status} ${statusText || ""}`.trim();
  }

  // ----- the API key, when the server asks for one ------------------------------------------------------------
  // The key lives in sessionStorage: asked once per tab, gone when the tab closes. Every request also carries the
  // CSRF header, which a page on another site cannot send, so the server can refuse forms posted from elsewhere.
  const KEY_STORE = "sentilstm-api-key";
  const CSRF_HEADER = "X-Sentilstm-CSRF";
  const keys = { value: storedKey(), asking: null, answer: null, declined: false };

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORE) || "";
    } catch (_) {
      return ""; // storage switched off: the key is asked for once per page load instead
    }
  }

  function requestHeaders() {
    const headers = { [CSRF_HEADER]: "1" };
    if (keys.value) headers.Authorization = `Bearer ${keys.value}`;
    return headers;
  }

  /** Open the key dialog; resolves true once a key is entered, false when the user closes it. */
  function openKeyDialog(message) {
    if (!keys.asking) {
      keys.asking = new Promise((resolve) => { keys.answer = resolve; });
      $("key-message").textContent = message;
      $("key-message").classList.toggle("error", message.startsWith("That key"));
      $("key-input").value = "";
      $("key-btn").hidden = false;
      $("key-dialog").showModal();
    }
    return keys.asking;
  }

  function closeKeyDialog(entered) {
    $("key-dialog").close();
    const answer = keys.answer;
    keys.asking = keys.answer = null;
    if (answer) answer(entered);
  }

  /** After a 401 to a request sent with `sentKey`: true when there is a (new) key to try again with. */
  function askForKey(sentKey) {
    if (keys.value && keys.value !== sentKey) return Promise.resolve(true); // entered meanwhile, for another request
    if (keys.declined) return Promise.resolve(false);
    return openKeyDialog(sentKey ? "That key was not accepted. Check it and try again."
      : "This server needs an API key. Ask whoever runs it; the page keeps it for this tab only.");
  }

  /** `attempt(headers)` (a fetch or an upload), repeated with a new key for as long as the server answers 401. */
  async function withKey(attempt) {
    for (;;) {
      const sent = keys.value;
      const response = await attempt(requestHeaders());
      if (response.status !== 401 || !(await askForKey(sent))) return response;
    }
  }

  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) return;
    keys.value = key;
    keys.declined = false;
    try {
      sessionStorage.setItem(KEY_STORE, key);
    } catch (_) { /* kept in memory only */ }
    closeKeyDialog(true);
  });
  $("key-cancel").addEventListener("click", () => {
    keys.declined = true;
    closeKeyDialog(false);
  });
  $("key-dialog").addEventListener("cancel", () => { // Escape
    keys.declined = true;
    closeKeyDialog(false);
  });
  $("key-btn").addEventListener("click", async () => {
    keys.declined = false;
    if (await openKeyDialog("Enter the API key to use from now on.")) loadModel().finally(() => refreshTrend(true));
  });

  async function api(path, { method = "GET", json, form } = {}) {
    const options = { method, headers: { Accept: "application/json" } };
    if (json !== undefined) {
      options.body = JSON.stringify(json);
      options.headers["Content-Type"] = "application/json";
    } else if (form) options.body = form;
    let response;
    try {
      response = await withKey((headers) => fetch(path, { ...options, headers: { ...options.headers, ...headers } }));
    } catch (_) {
      throw new ApiError(0, "The server cannot be reached; check that it is still running.");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, errorText(body, response.status, response.statusText));
    return body;
  }

  function showError(node, message) {
    node.textContent = message || "";
    node.hidden = !message;
  }

  function colourOf(label) {
    const name = String(label);
    if (!state.colours[name]) {
      state.labels.push(label);
      state.colours = labelColours(state.labels);
    }
    return state.colours[name];
  }

  function badge(label, className = "badge") {
    const node = el("span", { className, text: String(label) });
    node.style.background = colourOf(label).ink;
    return node;
  }

  function setLabels(labels) {
    if (!labels || !labels.length) return;
    state.labels = [...labels];
    state.colours = labelColours(state.labels);
    $("model-labels").replaceChildren(...state.labels.map((l) => badge(l, "badge badge-sm")));
  }

  const sizeText = (bytes) => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB`
    : bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : `${bytes} bytes`);

  /** Redraw a chart when its box changes width (window resize, layout shift). */
  function keepDrawn(key, container, draw) {
    state.charts[key] = { container, draw, width: container.clientWidth };
    draw();
  }
  const resizeObserver = new ResizeObserver(() => {
    Object.values(state.charts).forEach((chart) => {
      if (chart.container.isConnected && Math.abs(chart.container.clientWidth - chart.width) > 4) {
        chart.width = chart.container.clientWidth;
        chart.draw();
      }
    });
  });
  ["dist-chart", "time-chart", "trend-chart"].forEach((id) => resizeObserver.observe($(id)));

  // ----- header: the model -------------------------------------------------------------------------------------
  /** "test macro-F1 0.912" (else the validation score) from the model's saved metrics, when it has them. */
  function headlineMetric(metrics) {
    const scores = (metrics && (metrics.test || metrics.validation)) || metrics || {};
    const where = metrics && metrics.test ? "test " : metrics && metrics.validation ? "validation " : "";
    for (const [key, name] of [["macro_f1", "macro-F1"], ["accuracy", "accuracy"]]) {
      if (typeof scores[key] === "number") return `${where}${name} ${scores[key].toFixed(3)}`;
    }
    return null;
  }

  async function loadModel() {
    const dot = $("health-dot");
    try {
      const [health, model] = await Promise.all([api("/health"), api("/model").catch((error) => ({ error }))]);
      dot.classList.add("ok");
      dot.title = "The server is up";
      $("model-name").textContent = health.model || "model";
      const meta = [model.predictor || model.estimator, health.backend || model.backend, headlineMetric(model.metrics)]
        .filter(Boolean);
      $("model-meta").textContent = model.error && model.error.status === 401 ? model.error.message : meta.join(" · ");
      if (model.limits && model.limits.max_chars) $("text-input").maxLength = model.limits.max_chars;
      setLabels(model.labels);
    } catch (error) {
      dot.classList.add("down");
      dot.title = error.message;
      $("model-name").textContent = "Model unavailable";
      $("model-meta").textContent = error.message;
    }
  }

  // ----- card 1: try a text ---------------------------------------------------------------------------------------
  /** Explanations as [{word, start, end, scores: {label: score}}], from either to_dict shape. */
  function explanationWords(ex) {
    const words = ex.words || [];
    if (!words.length || typeof words[0] === "object") return words;
    const names = (ex.labels || state.labels).map(String);
    return words.map((word, i) => ({ word, start: ex.spans[i][0], end: ex.spans[i][1],
      scores: Object.fromEntries(names.map((n, k) => [n, ex.scores[i][k]])) }));
  }

  function orderedNames(probabilities) {
    const known = state.labels.map(String).filter((n) => n in probabilities);
    return [...known, ...Object.keys(probabilities).filter((n) => !known.includes(n))];
  }

  function renderPrediction(prediction) {
    const label = String(prediction.label);
    const probabilities = prediction.probabilities || {};
    const names = orderedNames(probabilities);
    const top = $("label-badge");
    top.textContent = label;
    top.style.background = colourOf(label).ink;
    $("label-confidence").textContent = `${fmtShare(probabilities[label] || 0)} probability`;
    state.explainLabel = label;
    const bars = names.map((name) => {
      const p = Number(probabilities[name]) || 0;
      const fill = el("span", { className: "prob-fill" });
      fill.style.width = `${(p * 100).toFixed(1)}%`;
      fill.style.background = colourOf(name).fill;
      const row = el("button", { className: "prob-row", attrs: { type: "button", role: "radio", "data-label": name,
        "aria-checked": String(name === label), "aria-label": `${name}: ${fmtShare(p)}` } },
      el("span", { className: "prob-name", text: name }),
      el("span", { className: "prob-track" }, fill),
      el("span", { className: "prob-value", text: fmtShare(p) }));
      row.addEventListener("click", () => selectExplainedLabel(name));
      row.addEventListener("keydown", (e) => {
        const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[e.key];
        if (!step) return;
        e.preventDefault();
        const next = names[(names.indexOf(state.explainLabel) + step + names.length) % names.length];
        selectExplainedLabel(next);
        $("prob-bars").querySelector(`[data-label="${CSS.escape(next)}"]`).focus();
      });
      return row;
    });
    $("prob-bars").replaceChildren(...bars);
    updateRadioFocus();
  }

  function updateRadioFocus() {
    $("prob-bars").querySelectorAll(".prob-row").forEach((row) => {
      const on = row.dataset.label === state.explainLabel;
      row.setAttribute("aria-checked", String(on));
      row.tabIndex = on ? 0 : -1;
    });
  }

  function selectExplainedLabel(name) {
    state.explainLabel = name;
    updateRadioFocus();
    if (state.explanation) renderExplanation(state.explanation);
  }

  function renderExplanation(ex) {
    const name = state.explainLabel;
    const text = ex.text;
    const words = explanationWords(ex);
    const scores = words.map((w) => Number((w.scores || {})[name]) || 0);
    const largest = Math.max(1e-9, ...scores.map(Math.abs));
    const method = METHOD_NAMES[ex.method] || ex.method || "attribution";
    const paragraph = $("highlighted");
    paragraph.replaceChildren();
    let cursor = 0;
    words.forEach((w, i) => {
      if (w.start > cursor) paragraph.appendChild(document.createTextNode(text.slice(cursor, w.start)));
      const strength = Math.abs(scores[i]) / largest;
      const span = el("span", { className: "word", text: text.slice(w.start, w.end) });
      if (strength >= 0.04) {
        const rgb = scores[i] > 0 ? "48, 164, 108" : "229, 72, 77";
        span.style.background = `rgba(${rgb}, ${(0.12 + 0.58 * strength).toFixed(3)})`;
        span.classList.add(scores[i] > 0 ? "towards" : "away");
      }
      span.dataset.score = scores[i].toFixed(4);
      span.addEventListener("mousemove", (e) => tooltip.show([
        { label: w.word, className: "tip-head" },
        { label: scores[i] >= 0 ? `towards ${name}` : `away from ${name}`, value: signed(scores[i]) },
        { label: method, className: "tip-sub" },
      ], e.clientX, e.clientY));
      span.addEventListener("mouseleave", () => tooltip.hide());
      paragraph.appendChild(span);
      cursor = w.end;
    });
    if (cursor < text.length) paragraph.appendChild(document.createTextNode(text.slice(cursor)));
    paragraph.classList.remove("loading");

    const swatch = (cls) => el("span", { className: `swatch ${cls}` });
    $("attribution-legend").replaceChildren(
      el("span", { className: "legend-item" }, swatch("towards"), document.createTextNode(`towards ${name}`)),
      el("span", { className: "legend-item" }, swatch("away"), document.createTextNode(`away from ${name}`)));

    const order = scores.map((s, i) => i).filter((i) => Math.abs(scores[i]) / largest >= 0.04)
      .sort((a, b) => Math.abs(scores[b]) - Math.abs(scores[a])).slice(0, 5);
    $("top-words").replaceChildren(...(order.length ? [el("span", { className: "eyebrow", text: "Strongest" })] : []),
      ...order.map((i) => el("span", { className: `word-chip ${scores[i] > 0 ? "towards" : "away"}` },
        el("span", { text: words[i].word }), el("span", { className: "chip-score", text: signed(scores[i]) }))));
    $("explain-notes").textContent = [`Word scores by ${method}.`, ...sentences(ex.notes)].join(" ");
  }

  const sentences = (notes) => (notes || []).filter(Boolean).map((n) => `${n[0].toUpperCase()}${n.slice(1)}.`);
  const signed = (v) => `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(Math.abs(v) >= 10 ? 1 : 3)}`;

  let analyseRun = 0;
  async function analyse() {
    const text = $("text-input").value;
    showError($("analyse-error"), "");
    if (!text.trim()) {
      showError($("analyse-error"), "Type a text to analyse first.");
      $("text-input").focus();
      return;
    }
    const run = ++analyseRun;
    const button = $("analyse-btn");
    button.disabled = true;
    button.classList.add("busy");
    const paragraph = $("highlighted");
    try {
      const predicted = await api("/predict", { method: "POST", json: { texts: [text] } });
      if (run !== analyseRun) return;
      state.analysed = text;
      state.explanation = null;
      renderPrediction(predicted.predictions[0]);
      paragraph.replaceChildren(document.createTextNode(text));
      paragraph.classList.add("loading");
      $("attribution-legend").replaceChildren();
      $("top-words").replaceChildren();
      $("explain-notes").textContent = "Working out which words mattered…";
      $("feedback-btn").disabled = false;
      $("feedback-status").className = "status-text";
      $("feedback-status").textContent = "Stores the text with its label; it shows up in the live trend below.";
      $("analyse-result").hidden = false;
    } catch (error) {
      if (run === analyseRun) showError($("analyse-error"), error.message);
      button.disabled = false;
      button.classList.remove("busy");
      return;
    }
    try {
      const explanation = await api("/explain", { method: "POST", json: { text, method: "auto" } });
      if (run !== analyseRun) return;
      state.explanation = explanation;
      renderExplanation(explanation);
    } catch (error) {
      if (run !== analyseRun) return;
      paragraph.classList.remove("loading");
      $("explain-notes").textContent = `No word scores: ${error.message}`;
    } finally {
      if (run === analyseRun) {
        button.disabled = false;
        button.classList.remove("busy");
      }
    }
  }

  async function saveFeedback() {
    if (!state.analysed) return;
    const button = $("feedback-btn");
    const status = $("feedback-status");
    button.disabled = true;
    status.className = "status-text";
    status.textContent = "Saving…";
    try {
      await api("/feedback", { method: "POST", json: { text: state.analysed, source: "web" } });
      status.classList.add("success");
      status.textContent = "Saved. It counts in the live trend below.";
      refreshTrend(true);
    } catch (error) {
      status.classList.add("error");
      status.textContent = `Not saved: ${error.message}`;
      button.disabled = false;
    }
  }

  $("analyse-form").addEventListener("submit", (e) => {
    e.preventDefault();
    analyse();
  });
  $("text-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      analyse();
    }
  });
  $("feedback-btn").addEventListener("click", saveFeedback);

  // ----- card 2: score a file -------------------------------------------------------------------------------------
  /** POST `form` with upload progress; resolves with {status, body, statusText} (rejects only when unreachable). */
  function postForm(url, form, onProgress, headers) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.responseType = "json";
      xhr.setRequestHeader("Accept", "application/json");
      Object.entries(headers).forEach(([name, value]) => xhr.setRequestHeader(name, value));
      xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
      xhr.addEventListener("load", () => resolve({ status: xhr.status, body: xhr.response, statusText: xhr.statusText }));
      xhr.addEventListener("error", () => reject(new ApiError(0, "The upload failed: the server cannot be reached.")));
      xhr.send(form);
    });
  }

  async function uploadWithProgress(url, form, onProgress) {
    const { status, body, statusText } = await withKey((headers) => postForm(url, form, onProgress, headers));
    if (status >= 200 && status < 300) return body;
    throw new ApiError(status, errorText(body, status, statusText));
  }

  function resetScoring() {
    showError($("score-error"), "");
    $("score-results").hidden = true;
    delete state.charts.dist;
    delete state.charts.time;
  }

  async function chooseFile(file) {
    if (!file) return;
    resetScoring();
    if (file.size > MAX_UPLOAD_BYTES) {
      showError($("score-error"), `${file.name} is ${sizeText(file.size)}; the page scores files up to `
        + `${sizeText(MAX_UPLOAD_BYTES)}. Split it, or score it with \`sentilstm predict MODEL --input FILE --output SCORED\`.`);
      return;
    }
    const form = new FormData();
    form.append("file", file, file.name);
    const progress = $("upload-progress");
    progress.hidden = false;
    $("upload-label").textContent = `Uploading ${file.name}…`;
    $("upload-fill").style.width = "0%";
    $("score-form").hidden = true;
    try {
      const info = await uploadWithProgress("/score/columns", form, (f) => {
        $("upload-fill").style.width = `${(f * 100).toFixed(0)}%`;
        $("upload-percent").textContent = `${Math.round(f * 100)}%`;
        if (f >= 1) $("upload-label").textContent = "Reading the columns…";
      });
      state.upload = info;
      showColumns(info);
    } catch (error) {
      showError($("score-error"), error.message);
      $("dropzone").hidden = false;
    } finally {
      progress.hidden = true;
      $("upload-percent").textContent = "";
      $("file-input").value = "";
    }
  }

  function fillSelect(select, columns, chosen, none) {
    const options = none ? [el("option", { text: none, attrs: { value: "" } })] : [];
    columns.forEach((c) => options.push(el("option", { text: c, attrs: { value: c } })));
    select.replaceChildren(...options);
    select.value = chosen || "";
  }

  function showColumns(info) {
    $("dropzone").hidden = true;
    $("file-name").textContent = info.filename;
    const guessed = info.text_column ? `text column guessed: ${info.text_column}` : "pick the text column";
    $("file-meta").textContent = `${sizeText(info.size)} · ${info.columns.length} column${info.columns.length === 1 ? "" : "s"} · ${guessed}`;
    fillSelect($("text-column"), info.columns, info.text_column || info.columns[0]);
    fillSelect($("timestamp-column"), info.columns, info.timestamp_column, "None");
    const table = $("preview-table");
    const head = el("tr", {}, ...info.columns.map((c) => el("th", { text: c, attrs: { scope: "col" } })));
    const rows = (info.preview || []).map((row) => el("tr", {}, ...row.map((v) => el("td", { text: v === null ? "" : v, className: v === null ? "missing" : "" }))));
    table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
    markPreviewColumns();
    $("score-form").hidden = false;
    $("score-btn").focus();
  }

  function markPreviewColumns() {
    if (!state.upload) return;
    const text = state.upload.columns.indexOf($("text-column").value);
    const time = state.upload.columns.indexOf($("timestamp-column").value);
    $("preview-table").querySelectorAll("tr").forEach((tr) => [...tr.children].forEach((cell, i) => {
      cell.classList.toggle("col-text", i === text);
      cell.classList.toggle("col-time", i === time);
    }));
  }

  async function scoreFile() {
    if (!state.upload) return;
    resetScoring();
    const form = new FormData();
    form.append("upload", state.upload.upload);
    form.append("text_column", $("text-column").value);
    if ($("timestamp-column").value) form.append("timestamp_column", $("timestamp-column").value);
    form.append("interval", $("interval").value);
    const button = $("score-btn");
    button.disabled = true;
    $("score-progress").hidden = false;
    $("score-label").textContent = `Scoring ${state.upload.filename}…`;
    const started = performance.now();
    const clock = setInterval(() => { $("score-elapsed").textContent = `${((performance.now() - started) / 1000).toFixed(0)} s`; }, 500);
    try {
      renderScore(await api("/score", { method: "POST", form }));
    } catch (error) {
      showError($("score-error"), error.message);
      if (error.status === 404) {
        $("score-form").hidden = true;
        $("dropzone").hidden = false;
        state.upload = null;
      }
    } finally {
      clearInterval(clock);
      $("score-elapsed").textContent = "";
      $("score-progress").hidden = true;
      button.disabled = false;
    }
  }

  function stat(label, value, extra) {
    return el("div", { className: "stat" }, el("div", { className: "stat-label", text: label }),
      el("div", { className: "stat-value" }, typeof value === "string" ? document.createTextNode(value) : value),
      extra ? el("div", { className: "stat-extra", text: extra }) : null);
  }

  /** Each label's share in the first and the last stretch of the series (a quarter of it, at most 7 periods). */
  function renderChange(series, labels) {
    const box = $("change");
    const points = series ? series.points : [];
    if (points.length < 2) {
      box.hidden = true;
      return;
    }
    const k = Math.max(1, Math.min(7, Math.floor(points.length / 4)));
    const shares = (part) => {
      const total = part.reduce((s, p) => s + p.count, 0) || 1;
      return Object.fromEntries(labels.map(String).map((n) => [n, part.reduce((s, p) => s + (p.counts[n] || 0), 0) / total]));
    };
    const before = shares(points.slice(0, k));
    const after = shares(points.slice(-k));
    const unit = series.interval;
    $("change-caption").textContent = k === 1 ? `First ${unit} → last ${unit}` : `First ${k} ${unit}s → last ${k} ${unit}s`;
    $("change-rows").replaceChildren(...labels.map(String).map((name) => {
      const delta = Math.round((after[name] - before[name]) * 100);
      const trend = delta > 0 ? "up" : delta < 0 ? "down" : "flat";
      return el("li", {}, badge(name, "badge badge-sm"),
        el("span", { className: "change-values", text: `${fmtShare(before[name])} → ${fmtShare(after[name])}` }),
        el("span", { className: `change-delta ${trend}`, text: `${delta > 0 ? "▲ +" : delta < 0 ? "▼ −" : ""}${Math.abs(delta)} pts` }));
    }));
    box.hidden = false;
  }

  function renderScore(result) {
    const labels = result.labels && result.labels.length ? result.labels : state.labels;
    labels.forEach(colourOf);
    const counts = result.label_counts || {};
    const names = labels.map(String);
    const topName = names.reduce((a, b) => ((counts[b] || 0) > (counts[a] || 0) ? b : a), names[0]);
    const stats = [stat("Rows scored", fmtCount(result.rows), result.text_column ? `texts from “${result.text_column}”` : null),
      stat("Most common label", badge(topName, "badge"), `${fmtShare((counts[topName] || 0) / Math.max(1, result.rows))} of rows`)];
    const series = result.series;
    if (series && series.points.length) {
      const fmt = window.Charts.formatters(series.interval === "month" ? "month" : "day", false);
      const first = fmt.short(parsePeriod(series.points[0].period));
      const last = fmt.short(parsePeriod(series.points[series.points.length - 1].period));
      const n = series.points.length;
      stats.push(stat("Time span", first === last ? first : `${first} – ${last}`, `${fmtCount(n)} ${series.interval}${n === 1 ? "" : "s"} with rows`));
    }
    if (typeof result.seconds === "number") {
      const rate = result.seconds > 0 ? `${fmtCount(Math.round(result.rows / result.seconds))} rows a second` : null;
      stats.push(stat("Scored in", `${result.seconds < 10 ? result.seconds.toFixed(1) : Math.round(result.seconds)} s`, rate));
    }
    $("score-stats").replaceChildren(...stats);
    renderChange(series, labels);

    const warnings = [];
    if (result.timestamp_column && !series) warnings.push(`None of the values in “${result.timestamp_column}” could be read as a date or time, so there is no chart over time.`);
    else if (result.unparsable_timestamps) warnings.push(`${fmtCount(result.unparsable_timestamps)} row${result.unparsable_timestamps === 1 ? " has" : "s have"} no readable timestamp in “${result.timestamp_column}”: counted in the distribution, left out over time.`);
    if (result.empty_texts) warnings.push(`${fmtCount(result.empty_texts)} row${result.empty_texts === 1 ? " has" : "s have"} an empty text; scored as an empty string.`);
    showError($("score-warning"), warnings.join(" "));
    $("score-results").hidden = false;

    keepDrawn("dist", $("dist-chart"), () => distribution($("dist-chart"), { labels, counts, colours: state.colours }));
    const timeBox = $("time-chart");
    if (series && series.points.length) {
      $("time-title").textContent = `Label share per ${series.interval}`;
      legend($("time-legend"), labels, state.colours, `rows per ${series.interval}`);
      keepDrawn("time", timeBox, () => timeSeries(timeBox, { points: series.points, labels, colours: state.colours, interval: series.interval }));
      $("time-notes").textContent = sentences(series.notes).join(" ");
    } else {
      $("time-title").textContent = "Sentiment over time";
      $("time-legend").replaceChildren();
      delete state.charts.time;
      timeBox.replaceChildren(el("div", { className: "empty", text: result.timestamp_column
        ? "No readable timestamps." : "Choose a timestamp column to see how the labels move over time." }));
      $("time-notes").textContent = "";
    }
    const link = $("download-link");
    link.href = result.download;
    link.setAttribute("download", `${(result.filename || "scored").replace(/\.(csv|tsv|tab|jsonl|ndjson|parquet)(\.gz)?$/i, "")}.scored.csv`);
    $("download-hint").textContent = `Your ${fmtCount(result.rows)} rows with predicted_label and ${names.map((n) => `prob_${n}`).join(", ")}. Kept for an hour.`;
  }

  /** With a key in use the download cannot be a plain link (a link sends no header): fetch it, save the blob. */
  $("download-link").addEventListener("click", async (e) => {
    if (!keys.value) return;
    e.preventDefault();
    const link = e.currentTarget;
    try {
      const response = await withKey((headers) => fetch(link.href, { headers }));
      if (!response.ok) {
        const body = await response.json().catch(() => null);
        throw new ApiError(response.status, errorText(body, response.status, response.statusText));
      }
      const url = URL.createObjectURL(await response.blob());
      const save = el("a", { attrs: { href: url, download: link.getAttribute("download") || "scored.csv" } });
      document.body.appendChild(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      showError($("score-error"), `The download failed: ${error.status === 0 ? "the server cannot be reached." : error.message}`);
    }
  });

  const dropzone = $("dropzone");
  $("file-input").addEventListener("change", (e) => chooseFile(e.target.files[0]));
  ["dragenter", "dragover"].forEach((type) => dropzone.addEventListener(type, (e) => {
    e.preventDefault();
    dropzone.classList.add("dragging");
  }));
  ["dragleave", "drop"].forEach((type) => dropzone.addEventListener(type, () => dropzone.classList.remove("dragging")));
  dropzone.addEventListener("drop", (e) => {
    e.preventDefault();
    chooseFile(e.dataTransfer.files[0]);
  });
  $("change-file").addEventListener("click", () => $("file-input").click());
  $("text-column").addEventListener("change", markPreviewColumns);
  $("timestamp-column").addEventListener("change", markPreviewColumns);
  $("score-form").addEventListener("submit", (e) => {
    e.preventDefault();
    scoreFile();
  });

  // ----- card 3: live feedback trend ------------------------------------------------------------------------------
  function feedbackItems(body) {
    if (Array.isArray(body)) return body;
    return (body && (body.items || body.feedback || body.stored)) || [];
  }

  function addSources(items) {
    items.forEach((item) => item && item.source && state.trend.sources.add(String(item.source)));
    const select = $("trend-source");
    const chosen = select.value;
    const options = [el("option", { text: "All sources", attrs: { value: "" } }),
      ...[...state.trend.sources].sort().map((s) => el("option", { text: s, attrs: { value: s } }))];
    select.replaceChildren(...options);
    select.value = chosen;
  }

  const clockTime = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });
  const dayTime = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
  const whenText = (date) => (date.toDateString() === new Date().toDateString() ? clockTime : dayTime).format(date);

  function renderRecent(items) {
    const list = $("recent-list");
    const shown = items.slice(0, 5);
    $("recent-feedback").hidden = !shown.length;
    list.replaceChildren(...shown.map((item) => {
      const label = item.label ?? item.predicted_label;
      const when = item.timestamp || item.created_at || item.time;
      const meta = [item.source, when ? whenText(parsePeriod(when)) : null].filter(Boolean).join(" · ");
      return el("li", {}, label !== undefined && label !== null ? badge(label, "badge badge-sm") : null,
        el("span", { className: "recent-text", text: item.text || "" }), el("span", { className: "recent-meta", text: meta }));
    }));
  }

  /** The live chart's time axis: the last N periods up to the end of the current one. */
  function trendWindow(interval) {
    const end = addPeriods(floorPeriod(new Date(), interval), interval, 1);
    return [addPeriods(end, interval, -TREND_WINDOWS[interval][0]), end];
  }

  async function refreshTrend(force = false) {
    clearTimeout(state.trend.timer);
    const { interval, source } = state.trend;
    const domain = trendWindow(interval);
    const params = new URLSearchParams({ interval, since: domain[0].toISOString() });
    if (source) params.set("source", source);
    const status = $("trend-updated");
    try {
      const [data, recent] = await Promise.all([api(`/trends?${params}`),
        api(`/feedback?limit=50`).catch(() => null)]);
      if (recent) {
        const items = feedbackItems(recent);
        addSources(items);
        renderRecent(source ? items.filter((i) => String(i.source) === source) : items);
      }
      const key = JSON.stringify([data, domain[1].getTime()]);
      if (force || key !== state.trend.last) {
        state.trend.last = key;
        drawTrend(data, domain);
      }
      $("live-dot").className = "live-dot on";
      status.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      $("live-dot").className = "live-dot off";
      status.textContent = `Cannot update: ${error.message} Retrying…`;
    } finally {
      state.trend.timer = setTimeout(tick, TREND_EVERY_MS);
    }
  }

  function tick() {
    if (document.hidden) state.trend.timer = setTimeout(tick, TREND_EVERY_MS);
    else refreshTrend();
  }

  function drawTrend(data, domain) {
    const labels = data.labels && data.labels.length ? data.labels : state.labels;
    labels.forEach(colourOf);
    const interval = data.interval || state.trend.interval;
    const points = (data.points || []).filter((p) => p.count > 0);
    const box = $("trend-chart");
    const total = points.reduce((s, p) => s + p.count, 0);
    const windowText = TREND_WINDOWS[interval] ? TREND_WINDOWS[interval][1] : "view";
    box.dataset.total = String(total);
    $("trend-total").textContent = `${fmtCount(total)} text${total === 1 ? "" : "s"} in ${windowText}`;
    if (!points.length) {
      delete state.charts.trend;
      $("trend-legend").replaceChildren();
      const from = state.trend.source ? ` from “${state.trend.source}”` : "";
      box.replaceChildren(el("div", { className: "empty", text: `No feedback${from} in ${windowText}. `
        + "Analyse a text above and press “Save as feedback”, or POST texts to /feedback." }));
      return;
    }
    legend($("trend-legend"), labels, state.colours, `texts per ${interval}`);
    keepDrawn("trend", box, () => timeSeries(box, { points, labels, colours: state.colours, interval, local: true,
      unit: "texts", domain, mode: "columns" }));
  }

  document.querySelectorAll('input[name="trend-interval"]').forEach((radio) => radio.addEventListener("change", () => {
    state.trend.interval = radio.value;
    refreshTrend(true);
  }));
  $("trend-source").addEventListener("change", (e) => {
    state.trend.source = e.target.value;
    refreshTrend(true);
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refreshTrend(); });

  $("max-size").textContent = sizeText(MAX_UPLOAD_BYTES);
  addSources([]);
  loadModel().finally(() => refreshTrend(true));
})();
