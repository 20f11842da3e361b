// wordgate console. Talks to /console/api/* on the same origin only; every
// piece of user text is written with textContent, never as HTML.
"use strict";

const API_HEADERS = { "X-Wordgate-Console": "1", "Content-Type": "application/json" };
const NOW_EVERY_MS = 2000;
const COLOURS = ["#1f5fbf", "#b3261e", "#c26a00", "#2a7f62", "#7a3db8", "#0e7c86", "#8a5a00", "#c2185b", "#455a64", "#6d4c41"];

const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) tr.appendChild(cell instanceof Node ? wrap("td", cell) : el("td", cell));
  return tr;
}

function wrap(tag, child) {
  const node = document.createElement(tag);
  node.appendChild(child);
  return node;
}

async function api(path, options) {
  const response = await fetch("/console/api/" + path, { credentials: "same-origin", ...options });
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (response.status === 401) { window.location.assign("/console"); }
  return { status: response.status, body };
}

// ---- tabs: click, or arrow keys on the tab list ----

const TABS = ["try", "dictionaries", "now"];

function show(name) {
  for (const tab of TABS) {
    const selected = tab === name;
    const button = $("tab-" + tab);
    button.setAttribute("aria-selected", String(selected));
    button.tabIndex = selected ? 0 : -1;
    $("panel-" + tab).hidden = !selected;
  }
  if (name === "dictionaries") loadDictionaries();
  if (name === "now") loadNow();
}

function setUpTabs() {
  TABS.forEach((tab, index) => {
    const button = $("tab-" + tab);
    button.addEventListener("click", () => show(tab));
    button.addEventListener("keydown", (event) => {
      const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      const next = TABS[(index + step + TABS.length) % TABS.length];
      show(next);
      $("tab-" + next).focus();
      event.preventDefault();
    });
  });
}

// ---- try a message ----

function mode() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function setUpTry() {
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => {
      const body = mode() === "body";
      document.querySelector('label[for="try-input"]').textContent = body ? "Callback body (JSON)" : "Text";
      $("try-input").placeholder = body ? '{"CallbackCommand":"C2C.CallbackBeforeSendMsg","MsgBody":[…]}' : "快来加群 傻逼";
    });
  }
  $("try-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = $("try-submit");
    button.disabled = true;
    try {
      const request = {
        mode: mode(),
        input: $("try-input").value,
        callback: $("try-callback").value,
        group_type: $("try-group-type").value,
        app: $("try-app").value.trim(),
      };
      const { status, body } = await api("try", { method: "POST", headers: API_HEADERS, body: JSON.stringify(request) });
      if (status !== 200) {
        $("try-result").hidden = true;
        $("try-error").textContent = (body && body.error) || "The try failed (HTTP " + status + ").";
        $("try-error").hidden = false;
        return;
      }
      $("try-error").hidden = true;
      renderTry(body);
    } finally {
      button.disabled = false;
    }
  });
}

function renderTry(result) {
  $("try-result").hidden = false;
  const verdict = $("try-verdict");
  verdict.textContent = result.decision;
  verdict.className = "badge " + result.decision;
  $("try-code").textContent = "ErrorCode " + result.error_code;
  $("try-place").textContent = "as " + result.command + " in " + result.place;

  const highlighted = $("try-highlighted");
  highlighted.replaceChildren();
  const explained = result.explained;
  const hits = explained ? explained.hits : result.hits;
  if (explained) {
    highlighted.hidden = false;
    for (const segment of explained.segments) {
      if (!segment.marks.length) { highlighted.appendChild(document.createTextNode(segment.text)); continue; }
      const counted = segment.marks.find((mark) => mark.hit !== undefined);
      const mark = el("mark", segment.text);
      if (counted) {
        const hit = explained.hits[counted.hit];
        mark.className = hit.action;
        mark.dataset.category = hit.category;
        mark.dataset.entry = hit.entry;
        mark.title = hit.category + " · " + hit.entry + " · " + hit.action;
      } else {
        const excused = explained.suppressed[segment.marks[0].suppressed];
        mark.className = "suppressed";
        mark.dataset.category = excused.category;
        mark.title = "excused by " + excused.allowed_by.category;
      }
      highlighted.appendChild(mark);
    }
  } else {
    highlighted.hidden = true;
  }

  const tbody = $("try-hits").querySelector("tbody");
  tbody.replaceChildren();
  for (const hit of hits) {
    const steps = hit.steps ? (hit.steps.length ? hit.steps.join(", ") : "as written") : (hit.field || "");
    tbody.appendChild(row([hit.category, hit.entry, hit.action, hit.matched, steps]));
  }
  if (!hits.length) tbody.appendChild(row(["—", "nothing hit", "", "", ""]));

  const suppressed = explained ? explained.suppressed : [];
  $("try-suppressed-box").hidden = !suppressed.length;
  const list = $("try-suppressed");
  list.replaceChildren();
  for (const item of suppressed) {
    const by = item.allowed_by.entry ? item.allowed_by.category + " (" + item.allowed_by.entry + ")" : item.allowed_by.category;
    list.appendChild(el("li", item.matched + " — " + item.category + " entry " + item.entry + ", excused by " + by));
  }
  const outOfScope = result.out_of_scope || [];
  $("try-out-of-scope").hidden = !outOfScope.length;
  $("try-out-of-scope").textContent = "Out of scope here: " + outOfScope.join(", ");
  $("try-answer").textContent = JSON.stringify(result.answer, null, 2);
}

// ---- dictionaries ----

function time(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "–";
}

async function loadDictionaries() {
  const { status, body } = await api("dictionaries");
  if (status !== 200 || !body) return;
  renderDictionaries(body);
}

function renderDictionaries(body) {
  const summary = body.dictionaries;
  $("dict-generation").textContent = summary.generation;
  $("dict-digest").textContent = summary.digest;
  $("dict-loaded").textContent = time(summary.loaded_at);
  const last = body.reload && body.reload.last;
  $("dict-last").textContent = last ? last.result + " (" + last.trigger + ", " + time(last.at) + ", " + last.build_ms.toFixed(1) + " ms)" : "none since start";
  renderReloadErrors(last);
  const tbody = $("categories").querySelector("tbody");
  tbody.replaceChildren();
  for (const category of body.categories) {
    const codes = [category.code, category.group_code].map((code) => code || "–").join(" / ");
    const scope = category.scope.length ? category.scope.join(" ") : "everywhere";
    tbody.appendChild(row([category.name, category.action, codes, scope, category.fold, category.entries]));
  }
  $("live").textContent = "Generation " + summary.generation + " · " + body.categories.length + " categories" + (body.dry_run ? " · shadow mode" : "");
}

function renderReloadErrors(report) {
  const box = $("reload-errors-box");
  const errors = (report && report.errors) || [];
  box.hidden = !(report && report.result === "failed");
  if (box.hidden) return;
  $("reload-summary").textContent = "The last reload failed; generation " + report.generation + " stays live. " + report.error_count + " problem(s):";
  const list = $("reload-errors");
  list.replaceChildren();
  for (const error of errors) list.appendChild(el("li", error));
}

function setUpReload() {
  $("reload").addEventListener("click", async () => {
    const button = $("reload");
    button.disabled = true;
    try {
      await api("reload", { method: "POST", headers: API_HEADERS, body: "{}" });
      await loadDictionaries();
    } finally {
      button.disabled = false;
    }
  });
}

// ---- now ----

async function loadNow() {
  const { status, body } = await api("now");
  if (status !== 200 || !body) return;
  renderNow(body.hour);
}

function total(counts) {
  return counts.reduce((sum, count) => sum + count, 0);
}

function renderNow(hour) {
  const svg = $("chart");
  for (const child of Array.from(svg.children)) if (child.tagName !== "title") child.remove();
  const minutes = hour.minutes.length;
  const series = hour.categories;
  const stacks = hour.minutes.map((_, at) => series.reduce((sum, one) => sum + one.counts[at], 0));
  const peak = Math.max(1, ...stacks);
  const width = 600 / 60;
  const offset = 60 - minutes;
  const ns = "http://www.w3.org/2000/svg";
  for (let at = 0; at < minutes; at++) {
    let y = 200;
    series.forEach((one, index) => {
      const count = one.counts[at];
      if (!count) return;
      const height = (count / peak) * 190;
      y -= height;
      const bar = document.createElementNS(ns, "rect");
      bar.setAttribute("x", String((offset + at) * width + 1));
      bar.setAttribute("y", String(y));
      bar.setAttribute("width", String(width - 2));
      bar.setAttribute("height", String(height));
      bar.setAttribute("fill", COLOURS[index % COLOURS.length]);
      const tip = document.createElementNS(ns, "title");
      tip.textContent = one.name + ": " + count + " at " + new Date(hour.minutes[at] * 1000).toLocaleTimeString();
      bar.appendChild(tip);
      svg.appendChild(bar);
    });
  }
  const legend = $("chart-legend");
  legend.replaceChildren();
  series.forEach((one, index) => {
    const item = el("span", one.name);
    const swatch = el("span", null, "swatch");
    swatch.style.background = COLOURS[index % COLOURS.length];
    item.prepend(swatch);
    legend.appendChild(item);
  });
  if (!series.length) legend.appendChild(el("span", "No hits in the last hour.", "muted"));
  fill("verdict-totals", hour.verdicts);
  fill("category-totals", series);
}

function fill(id, list) {
  const tbody = $(id).querySelector("tbody");
  tbody.replaceChildren();
  for (const one of list) {
    const tr = row([one.name, total(one.counts), one.counts[one.counts.length - 1] || 0]);
    tr.dataset.name = one.name;
    tbody.appendChild(tr);
  }
  if (!list.length) tbody.appendChild(row(["—", 0, 0]));
}

// ---- start ----

document.addEventListener("DOMContentLoaded", () => {
  setUpTabs();
  setUpTry();
  setUpReload();
  loadDictionaries();
  setInterval(() => { if (!$("panel-now").hidden) loadNow(); }, NOW_EVERY_MS);
});
