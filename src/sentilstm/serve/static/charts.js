/* sentilstm page: label colours, a shared tooltip, and the two SVG charts (label distribution, label shares
   over time). No dependencies; every piece of user text goes in through textContent. */
"use strict";

window.Charts = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const SEMANTIC = { negative: "#e5484d", neutral: "#9aa3b2", positive: "#30a46c" };
  const RAMP = ["#e5484d", "#f0883e", "#9aa3b2", "#74c69d", "#30a46c"]; // ratings: worst .. best
  const PALETTE = ["#4c6ef5", "#f08c00", "#ae3ec9", "#1098ad", "#d6336c", "#74b816", "#845ef7", "#5c7cfa"];

  // ----- colours ------------------------------------------------------------------------------------------
  function semanticOf(label) {
    const s = String(label).trim().toLowerCase();
    if (/^(neg|bad|poor|angry|hate|unhappy|dislike)/.test(s)) return "negative";
    if (/^(pos|good|great|happy|like|love)/.test(s)) return "positive";
    if (/^(neu|neutral|mixed|none|objective|other)/.test(s)) return "neutral";
    return null;
  }

  function mix(hex, other, amount) {
    const a = hex.match(/\w\w/g).map((h) => parseInt(h, 16));
    const b = other.match(/\w\w/g).map((h) => parseInt(h, 16));
    return "#" + a.map((v, i) => Math.round(v + (b[i] - v) * amount).toString(16).padStart(2, "0")).join("");
  }

  function luminance(hex) {
    const [r, g, b] = hex.match(/\w\w/g).map((h) => {
      const c = parseInt(h, 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  /** A darker shade of `hex` that white text reads on (WCAG AA, 4.5:1). */
  function ink(hex) {
    let shade = hex;
    for (let k = 0; k < 20 && 1.05 / (luminance(shade) + 0.05) < 4.5; k += 1) shade = mix(shade, "#000000", 0.08);
    return shade;
  }

  /** {label: {fill, ink, semantic}} for the model's labels: -1/0/1, neg/neu/pos, 1..5 stars read as sentiment. */
  function labelColours(labels) {
    const names = labels.map(String);
    const numeric = names.every((n) => n.trim() !== "" && !Number.isNaN(Number(n)));
    const out = {};
    if (numeric && names.length >= 2) {
      const order = [...names].sort((a, b) => Number(a) - Number(b));
      const n = order.length;
      order.forEach((name, i) => {
        let fill;
        let semantic = null;
        if (n === 2) [fill, semantic] = i === 0 ? [SEMANTIC.negative, "negative"] : [SEMANTIC.positive, "positive"];
        else if (n === 3) [fill, semantic] = [[SEMANTIC.negative, SEMANTIC.neutral, SEMANTIC.positive][i],
          ["negative", "neutral", "positive"][i]];
        else {
          const at = (i / (n - 1)) * (RAMP.length - 1);
          const lo = Math.floor(at);
          fill = lo >= RAMP.length - 1 ? RAMP[RAMP.length - 1] : mix(RAMP[lo], RAMP[lo + 1], at - lo);
        }
        out[name] = { fill, semantic };
      });
    } else {
      let next = 0;
      names.forEach((name) => {
        const semantic = semanticOf(name);
        out[name] = { fill: semantic ? SEMANTIC[semantic] : PALETTE[next++ % PALETTE.length], semantic };
      });
    }
    Object.values(out).forEach((c) => { c.ink = ink(c.fill); });
    return out;
  }

  // ----- small DOM helpers -----------------------------------------------------------------------------------
  function svg(tag, attrs = {}, parent = null) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, attrs = {}) {
    const node = svg("text", { x, y, ...attrs }, parent);
    node.textContent = content;
    return node;
  }

  const numberFormat = new Intl.NumberFormat();
  const fmtCount = (n) => numberFormat.format(n);
  const fmtShare = (x) => (x >= 0.995 || x < 0.005 || x * 100 >= 10 ? `${Math.round(x * 100)}%` : `${(x * 100).toFixed(1)}%`);

  // ----- tooltip ---------------------------------------------------------------------------------------------
  const tooltip = {
    node: null,
    show(rows, clientX, clientY) {
      if (!this.node) this.node = document.getElementById("tooltip");
      const box = this.node;
      box.replaceChildren();
      rows.forEach((row) => {
        const line = document.createElement("div");
        line.className = row.className || "tip-row";
        if (row.colour) {
          const dot = document.createElement("span");
          dot.className = "tip-dot";
          dot.style.background = row.colour;
          line.appendChild(dot);
        }
        const label = document.createElement("span");
        label.className = "tip-label";
        label.textContent = row.label;
        line.appendChild(label);
        if (row.value !== undefined) {
          const value = document.createElement("span");
          value.className = "tip-value";
          value.textContent = row.value;
          line.appendChild(value);
        }
        box.appendChild(line);
      });
      box.hidden = false;
      const { width, height } = box.getBoundingClientRect();
      let left = clientX + 14;
      let top = clientY + 14;
      if (left + width > window.innerWidth - 8) left = clientX - width - 14;
      if (top + height > window.innerHeight - 8) top = clientY - height - 14;
      box.style.left = `${Math.max(8, left)}px`;
      box.style.top = `${Math.max(8, top)}px`;
    },
    hide() {
      if (this.node) this.node.hidden = true;
    },
  };

  // ----- time -----------------------------------------------------------------------------------------------
  /** An ISO period from the API as a Date; a time without a zone is UTC (files' wall-clock times, UTC buckets). */
  function parsePeriod(value) {
    let s = String(value).trim().replace(" ", "T");
    if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += "T00:00:00";
    if (!/(Z|[+-]\d\d:?\d\d)$/i.test(s)) s += "Z";
    return new Date(s);
  }

  function addPeriods(date, interval, n) {
    const d = new Date(date.getTime());
    if (interval === "minute") d.setTime(d.getTime() + n * 60e3);
    else if (interval === "hour") d.setTime(d.getTime() + n * 3600e3);
    else if (interval === "day") d.setTime(d.getTime() + n * 86400e3);
    else if (interval === "week") d.setTime(d.getTime() + n * 7 * 86400e3);
    else d.setUTCMonth(d.getUTCMonth() + n);
    return d;
  }

  /** Date formats for `interval`: hours and minutes in the reader's time zone when `local`, else (and always for
   *  days, weeks and months, which are calendar periods) in UTC, which keeps a file's wall-clock times as written. */
  function formatters(interval, local) {
    const clock = interval === "minute" || interval === "hour";
    const utc = !(clock && local);
    const f = (options) => new Intl.DateTimeFormat(undefined, { timeZone: utc ? "UTC" : undefined, ...options });
    const time = f(interval === "minute" ? { hour: "numeric", minute: "2-digit" } : { hour: "numeric" });
    const date = f({ month: "short", day: "numeric" });
    const month = f({ month: "short", year: "numeric" });
    const full = {
      minute: f({ weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }),
      hour: f({ weekday: "short", month: "short", day: "numeric", hour: "numeric", minute: "2-digit" }),
      day: f({ weekday: "short", month: "short", day: "numeric", year: "numeric" }),
      week: f({ month: "short", day: "numeric", year: "numeric" }),
      month: f({ month: "long", year: "numeric" }),
    }[interval] || f({ dateStyle: "medium" });
    const offset = (d) => (utc ? 0 : d.getTimezoneOffset() * 60e3);
    const dayIndex = (d) => Math.floor((d.getTime() - offset(d)) / 86400e3);
    const minuteOfDay = (d) => Math.round((d.getTime() - offset(d)) / 60e3) - dayIndex(d) * 1440;
    return {
      dayIndex,
      minuteOfDay,
      tick: (d, withDate) => {
        if (!clock) return interval === "month" ? month.format(d) : date.format(d);
        if (minuteOfDay(d) === 0) return date.format(d);
        return withDate ? `${date.format(d)}, ${time.format(d)}` : time.format(d);
      },
      period: (d) => (interval === "week" ? `Week of ${full.format(d)}` : full.format(d)),
      short: (d) => (clock ? full.format(d) : interval === "month" ? month.format(d) : date.format(d)),
    };
  }

  /** Whether a tick every `step` periods falls on the period starting at `d` (on round hours, Mondays, ...). */
  function onTick(d, interval, step, fmt) {
    const day = fmt.dayIndex(d);
    const minute = fmt.minuteOfDay(d);
    if (interval === "minute") return step >= 1440 ? minute === 0 && day % (step / 1440) === 0 : minute % step === 0;
    if (interval === "hour") return step >= 24 ? minute === 0 && day % (step / 24) === 0 : minute % (step * 60) === 0;
    const week = Math.floor((day + 3) / 7); // 1970-01-01 was a Thursday: weeks counted from Mondays
    if (interval === "day") return step % 7 === 0 ? d.getUTCDay() === 1 && week % (step / 7) === 0 : day % step === 0;
    if (interval === "week") return week % step === 0;
    return (d.getUTCFullYear() * 12 + d.getUTCMonth()) % step === 0;
  }

  function niceCeiling(value) {
    if (value <= 0) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  // ----- label distribution ------------------------------------------------------------------------------------
  /** Horizontal bars: one per label, with its count and share. */
  function distribution(container, { labels, counts, colours, unit = "rows" }) {
    const width = Math.max(280, container.clientWidth);
    const total = labels.reduce((sum, l) => sum + (counts[String(l)] || 0), 0) || 1;
    const labelWidth = Math.min(140, Math.max(48, 12 + 7.5 * Math.max(...labels.map((l) => String(l).length))));
    const valueWidth = 118;
    const rowHeight = 34;
    const height = labels.length * rowHeight + 6;
    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart dist-chart" });
    const summary = labels.map((l) => `${l}: ${fmtCount(counts[String(l)] || 0)}`).join(", ");
    svg("title", {}, root).textContent = `Predicted labels, ${fmtCount(total)} ${unit}: ${summary}`;
    const barSpace = width - labelWidth - valueWidth;
    labels.forEach((label, i) => {
      const name = String(label);
      const count = counts[name] || 0;
      const share = count / total;
      const y = i * rowHeight + 4;
      const row = svg("g", { class: "dist-row" }, root);
      text(row, labelWidth - 10, y + 18, name, { class: "dist-label", "text-anchor": "end" });
      svg("rect", { x: labelWidth, y: y + 4, width: barSpace, height: 20, rx: 4, class: "bar-track" }, row);
      svg("rect", { x: labelWidth, y: y + 4, width: Math.max(share > 0 ? 3 : 0, share * barSpace), height: 20, rx: 4,
        fill: colours[name].fill, class: "bar" }, row);
      const value = text(row, labelWidth + barSpace + 10, y + 18, "", { class: "dist-value" });
      svg("tspan", { class: "dist-share" }, value).textContent = fmtShare(share);
      svg("tspan", { dx: 6, class: "dist-count" }, value).textContent = `${fmtCount(count)} ${unit}`;
      row.addEventListener("mousemove", (e) => tooltip.show([
        { label: name, colour: colours[name].fill, className: "tip-head" },
        { label: "Share", value: fmtShare(share) }, { label: unit[0].toUpperCase() + unit.slice(1), value: fmtCount(count) },
      ], e.clientX, e.clientY));
      row.addEventListener("mouseleave", () => tooltip.hide());
    });
    container.replaceChildren(root);
  }

  // ----- label shares over time ---------------------------------------------------------------------------------
  /** The start of the period holding `date` (UTC calendar; weeks start on Monday). */
  function floorPeriod(date, interval) {
    const d = new Date(date.getTime());
    if (interval === "minute") d.setUTCSeconds(0, 0);
    else if (interval === "hour") d.setUTCMinutes(0, 0, 0);
    else {
      d.setUTCHours(0, 0, 0, 0);
      if (interval === "week") d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
      if (interval === "month") d.setUTCDate(1);
    }
    return d;
  }

  /** Label shares per period over a true time axis, the volume per period beneath.
   *  mode "area": stacked areas through the periods' middles (a file's continuous series);
   *  mode "columns": one stacked column per period (sparse live data); one period is always a column.
   *  `domain` [start, end] fixes the time axis (a live window); otherwise it spans the data.
   *  Hover, or focus and the arrow keys, read out a period's numbers. */
  function timeSeries(container, { points, labels, colours, interval, local = false, unit = "rows", domain = null, mode = "area" }) {
    const names = labels.map(String);
    const fmt = formatters(interval, local);
    const data = points.map((p) => {
      const start = parsePeriod(p.period);
      const raw = names.map((n) => Number((p.shares || {})[n]) || 0);
      const sum = raw.reduce((a, b) => a + b, 0) || 1;
      return { start, end: addPeriods(start, interval, 1), count: p.count || 0, counts: p.counts || {},
        shares: raw.map((v) => v / sum) };
    }).sort((a, b) => a.start - b.start);
    const width = Math.max(320, container.clientWidth);
    const m = { left: 48, right: 14, top: 10, bottom: 30 };
    const shareHeight = 190;
    const gap = 30;
    const volumeHeight = 64;
    const height = m.top + shareHeight + gap + volumeHeight + m.bottom;
    const plotWidth = width - m.left - m.right;
    const first = data[0];
    const last = data[data.length - 1];
    const columns = mode === "columns" || data.length === 1;
    let t0 = domain ? domain[0].getTime() : first.start.getTime();
    let t1 = domain ? domain[1].getTime() : last.end.getTime();
    if (!domain && data.length === 1) {
      t0 = addPeriods(first.start, interval, -1).getTime();
      t1 = addPeriods(first.end, interval, 1).getTime();
    }
    const x = (t) => m.left + ((t - t0) / (t1 - t0)) * plotWidth;
    const mid = (d) => (d.start.getTime() + d.end.getTime()) / 2;
    const yShare = (v) => m.top + (1 - v) * shareHeight;
    const volumeTop = m.top + shareHeight + gap;
    const maxCount = niceCeiling(Math.max(...data.map((d) => d.count)));
    const yVolume = (c) => volumeTop + volumeHeight - (c / maxCount) * volumeHeight;
    const span = (d) => { // the x extent of a period's column or volume bar
      let x0 = x(d.start.getTime());
      let x1 = x(d.end.getTime());
      if (!domain && data.length === 1) {
        const w = Math.min(140, plotWidth / 3);
        [x0, x1] = [x(mid(d)) - w / 2, x(mid(d)) + w / 2];
      }
      const inset = x1 - x0 > 6 ? Math.min(6, (x1 - x0) * 0.12) : 0;
      return [x0 + inset / 2, Math.max(x0 + inset / 2 + 1.5, x1 - inset / 2)];
    };

    const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", tabindex: 0,
      class: "chart time-chart" });
    const total = data.reduce((s, d) => s + d.count, 0);
    const plural = (n, word) => `${fmtCount(n)} ${word}${n === 1 ? "" : "s"}`;
    svg("title", {}, root).textContent = `Label shares per ${interval}, ${fmt.short(first.start)} to ${fmt.short(last.start)}: `
      + `${fmtCount(total)} ${unit} in ${plural(data.length, interval)}. Use the arrow keys to read each ${interval}.`;

    // grid and axes
    const grid = svg("g", { class: "grid" }, root);
    [0, 0.25, 0.5, 0.75, 1].forEach((v) => {
      svg("line", { x1: m.left, x2: width - m.right, y1: yShare(v), y2: yShare(v) }, grid);
      text(grid, m.left - 8, yShare(v) + 4, `${v * 100}%`, { class: "axis-label", "text-anchor": "end" });
    });
    svg("line", { x1: m.left, x2: width - m.right, y1: yVolume(0), y2: yVolume(0), class: "baseline" }, grid);
    svg("line", { x1: m.left, x2: width - m.right, y1: yVolume(maxCount), y2: yVolume(maxCount) }, grid);
    text(grid, m.left - 8, yVolume(maxCount) + 4, fmtCount(maxCount), { class: "axis-label", "text-anchor": "end" });
    text(grid, m.left - 8, yVolume(0) + 4, "0", { class: "axis-label", "text-anchor": "end" });
    text(grid, m.left, volumeTop - 7, `${unit[0].toUpperCase() + unit.slice(1)} per ${interval}`, { class: "axis-title" });

    // x ticks at period starts: every k-th, k chosen so that the labels do not collide
    const ticks = svg("g", { class: "ticks" }, root);
    if (!domain && data.length === 1) {
      text(ticks, x(mid(first)), height - m.bottom + 20, fmt.short(first.start), { class: "axis-label", "text-anchor": "middle" });
    } else {
      const starts = [];
      const from = floorPeriod(new Date(t0), interval);
      for (let d = from, i = 0; d.getTime() < t1 && i < 5000; d = addPeriods(from, interval, ++i)) if (d.getTime() >= t0) starts.push(d);
      const clock = interval === "hour" || interval === "minute";
      const maxTicks = Math.max(2, Math.floor(plotWidth / (clock ? 84 : 70)));
      const steps = { minute: [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440], hour: [1, 2, 3, 6, 12, 24, 48, 168],
        day: [1, 2, 7, 14, 28], week: [1, 2, 4, 8, 13, 26, 52], month: [1, 2, 3, 6, 12, 24, 60] }[interval] || [1];
      let chosen = starts.filter((_, i) => i % Math.ceil(starts.length / maxTicks) === 0);
      for (const step of steps) {
        const candidate = starts.filter((d) => onTick(d, interval, step, fmt));
        if (candidate.length <= maxTicks && candidate.length) {
          chosen = candidate;
          break;
        }
      }
      const dated = chosen.some((d) => fmt.minuteOfDay(d) === 0);
      chosen.forEach((d, i) => {
        const tx = x(d.getTime());
        svg("line", { x1: tx, x2: tx, y1: yVolume(0), y2: yVolume(0) + 5, class: "tick" }, ticks);
        const anchor = tx - m.left < 24 ? "start" : width - m.right - tx < 24 ? "end" : "middle";
        const label = text(ticks, tx, height - m.bottom + 20, fmt.tick(d, clock && i === 0 && !dated), { class: "axis-label", "text-anchor": anchor });
        if (clock && dated && fmt.minuteOfDay(d) === 0 && chosen.some((t) => fmt.minuteOfDay(t) !== 0)) label.classList.add("axis-date");
      });
    }

    // shares: stacked areas, or stacked columns
    const cumulative = data.map((d) => {
      let acc = 0;
      return d.shares.map((s) => [acc, (acc += s)]);
    });
    const areas = svg("g", { class: columns ? "columns" : "areas" }, root);
    names.forEach((name, k) => {
      const fill = colours[name].fill;
      if (columns) {
        data.forEach((d, i) => {
          const [lo, hi] = cumulative[i][k];
          if (hi - lo <= 0) return;
          const [x0, x1] = span(d);
          svg("rect", { x: x0, y: yShare(hi), width: x1 - x0, height: yShare(lo) - yShare(hi), fill, class: "area" }, areas);
          if (!domain && data.length === 1 && hi - lo >= 0.06) {
            const label = text(areas, x1 + 10, (yShare(lo) + yShare(hi)) / 2 + 4, name, { class: "area-label" });
            svg("tspan", { dx: 8, class: "area-share" }, label).textContent = fmtShare(hi - lo);
          }
        });
        return;
      }
      // through each period's middle, held flat across the first and last half periods to the axis ends
      const xs = [x(t0), ...data.map((d) => x(mid(d))), x(t1)].map((v) => v.toFixed(1));
      const at = (j) => cumulative[Math.min(data.length - 1, Math.max(0, j - 1))][k];
      const upper = xs.map((px, j) => `${px},${yShare(at(j)[1]).toFixed(1)}`);
      const lower = xs.map((px, j) => `${px},${yShare(at(j)[0]).toFixed(1)}`).reverse();
      svg("path", { d: `M${upper.join("L")}L${lower.join("L")}Z`, fill, class: "area" }, areas);
      if (k < names.length - 1 && plotWidth / data.length >= 4) svg("path", { d: `M${upper.join("L")}`, class: "area-edge" }, areas);
    });

    // volume bars
    const bars = svg("g", { class: "volume" }, root);
    const barNodes = data.map((d) => {
      const [x0, x1] = columns ? span(d) : [x(d.start.getTime()), x(d.end.getTime())];
      const w = columns ? x1 - x0 : Math.max(1, x1 - x0 - (x1 - x0 > 4 ? 1.5 : 0));
      const left = columns ? x0 : x0 + (x1 - x0 - w) / 2;
      return svg("rect", { x: left, y: yVolume(d.count), width: w,
        height: Math.max(d.count > 0 ? 1 : 0, yVolume(0) - yVolume(d.count)), rx: Math.min(2, w / 4), class: "volume-bar" }, bars);
    });

    // hover / keyboard read-out
    const guide = svg("g", { class: "guide", visibility: "hidden" }, root);
    const guideLine = svg("line", { y1: m.top, y2: yVolume(0), class: "guide-line" }, guide);
    const dots = names.map((name) => svg("circle", { r: 3.5, fill: colours[name].fill, class: "guide-dot" }, guide));
    let active = -1;
    const centre = (d) => (columns ? (span(d)[0] + span(d)[1]) / 2 : x(mid(d)));
    const show = (i, clientX, clientY) => {
      active = i;
      const d = data[i];
      const gx = centre(d);
      guideLine.setAttribute("x1", gx);
      guideLine.setAttribute("x2", gx);
      names.forEach((_, k) => {
        dots[k].setAttribute("cx", gx);
        dots[k].setAttribute("cy", yShare(cumulative[i][k][1]));
        dots[k].setAttribute("visibility", d.shares[k] > 0 ? "inherit" : "hidden"); // "visible" would outlive the hidden guide
      });
      guide.setAttribute("visibility", "visible");
      barNodes.forEach((b, j) => b.classList.toggle("active", j === i));
      const rows = [{ label: fmt.period(d.start), className: "tip-head" }, { label: `${fmtCount(d.count)} ${unit}`, className: "tip-sub" }];
      [...names].reverse().forEach((name) => {
        const k = names.indexOf(name);
        const n = d.counts[name];
        rows.push({ label: name, colour: colours[name].fill, value: `${fmtShare(d.shares[k])}${n !== undefined ? `  ${fmtCount(n)}` : ""}` });
      });
      if (clientX === undefined) {
        const box = root.getBoundingClientRect();
        clientX = box.left + gx;
        clientY = box.top + m.top + 24;
      }
      tooltip.show(rows, clientX, clientY);
    };
    const hide = () => {
      active = -1;
      guide.setAttribute("visibility", "hidden");
      barNodes.forEach((b) => b.classList.remove("active"));
      tooltip.hide();
    };
    const nearest = (px) => {
      let best = 0;
      data.forEach((d, i) => { if (Math.abs(centre(d) - px) < Math.abs(centre(data[best]) - px)) best = i; });
      return best;
    };
    const overlay = svg("rect", { x: m.left, y: m.top, width: plotWidth, height: yVolume(0) - m.top, class: "overlay" }, root);
    overlay.addEventListener("mousemove", (e) => {
      const box = root.getBoundingClientRect();
      show(nearest(e.clientX - box.left), e.clientX, e.clientY);
    });
    overlay.addEventListener("mouseleave", hide);
    root.addEventListener("keydown", (e) => {
      if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
        e.preventDefault();
        const next = active < 0 ? (e.key === "ArrowRight" ? 0 : data.length - 1)
          : Math.min(data.length - 1, Math.max(0, active + (e.key === "ArrowRight" ? 1 : -1)));
        show(next);
      } else if (e.key === "Escape") hide();
    });
    root.addEventListener("blur", hide);
    container.replaceChildren(root);
  }

  /** A legend row: a swatch and name per label (top of the stack first), plus the volume swatch. */
  function legend(container, labels, colours, unit) {
    container.replaceChildren();
    [...labels].map(String).reverse().forEach((name) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colours[name].fill;
      item.append(swatch, document.createTextNode(name));
      container.appendChild(item);
    });
    if (unit) {
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("span");
      swatch.className = "swatch volume-swatch";
      item.append(swatch, document.createTextNode(unit));
      container.appendChild(item);
    }
  }

  return { labelColours, distribution, timeSeries, legend, tooltip, parsePeriod, floorPeriod, addPeriods, formatters, fmtCount, fmtShare };
})();
