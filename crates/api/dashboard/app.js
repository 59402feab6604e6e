// rustvecdb dashboard: plain JavaScript against this server's own REST API (same origin).
// Every call sends the API key saved in localStorage as the `api-key` header; errors show the
// server's `status.error` message.
"use strict";

const KEY_STORAGE = "rustvecdb.apiKey";
const $ = (sel) => document.querySelector(sel);

const state = {
  collection: null, // the open collection's name
  offsets: [],      // scroll offsets of the pages seen so far (for "First page")
  next: null,       // next_page_offset of the shown page
};

// ---- API -------------------------------------------------------------------------------------

class ApiError extends Error {}

function apiKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

async function api(method, path, body) {
  const headers = { "accept": "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const key = apiKey();
  if (key) headers["api-key"] = key;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(`${method} ${path}: the server cannot be reached (${e.message})`);
  }
  const text = await resp.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch (_) {
    // not JSON: reported below
  }
  if (!resp.ok || (json && json.status && json.status.error)) {
    const msg = json && json.status && json.status.error ? json.status.error : text || resp.statusText;
    throw new ApiError(`${resp.status}: ${msg}`);
  }
  return json && "result" in json ? json.result : json;
}

const enc = encodeURIComponent;

// ---- messages --------------------------------------------------------------------------------

function showError(e) {
  const box = $("#error");
  box.textContent = e instanceof Error ? e.message : String(e);
  box.hidden = false;
  $("#notice").hidden = true;
}

function clearError() {
  $("#error").hidden = true;
  $("#error").textContent = "";
}

function notice(msg) {
  const box = $("#notice");
  box.textContent = msg;
  box.hidden = false;
}

// Runs an action, showing its error (if any) instead of throwing.
async function guarded(action) {
  try {
    clearError();
    return await action();
  } catch (e) {
    showError(e);
    return undefined;
  }
}

// ---- DOM helpers -----------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else if (k === "onclick") node.addEventListener("click", v);
    else node[k] = v;
  }
  for (const c of children) {
    node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  }
  return node;
}

function json(v) {
  return el("pre", { class: "json" }, v == null ? "null" : JSON.stringify(v, null, 1));
}

function vectorsText(vectors) {
  if (!vectors) return "";
  if ("size" in vectors || "distance" in vectors) return `${vectors.size ?? "?"} · ${vectors.distance}`;
  return Object.entries(vectors)
    .map(([name, p]) => `${name}: ${p.size ?? "?"} · ${p.distance}`)
    .join(", ");
}

// ---- collections -----------------------------------------------------------------------------

async function loadCollections() {
  const list = await api("GET", "/collections");
  const names = list.collections.map((c) => c.name).sort();
  const infos = await Promise.all(
    names.map((n) => api("GET", `/collections/${enc(n)}`).then((i) => [n, i], (e) => [n, e])),
  );
  const body = $("#collections tbody");
  body.replaceChildren();
  for (const [name, info] of infos) {
    const row = el("tr", { "data-collection": name });
    if (info instanceof Error) {
      row.append(el("td", {}, name), el("td", { colSpan: 5, class: "err" }, info.message));
    } else {
      row.append(
        el("td", { class: "name" }, el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); openCollection(name); } }, name)),
        el("td", { class: "status" }, el("span", { class: `badge ${info.status}` }, info.status)),
        el("td", { class: "points num" }, info.points_count),
        el("td", { class: "segments num" }, info.segments_count),
        el("td", { class: "vectors" }, vectorsText(info.config.params.vectors)),
        el("td", { class: "actions" },
          el("button", { type: "button", class: "secondary open", onclick: () => openCollection(name) }, "Open"),
          el("button", { type: "button", class: "danger delete", onclick: () => deleteCollection(name) }, "Delete")),
      );
    }
    body.append(row);
  }
  $("#no-collections").hidden = names.length > 0;
  if (state.collection && !names.includes(state.collection)) closeCollection();
  if (state.collection) {
    const info = infos.find(([n]) => n === state.collection)[1];
    if (!(info instanceof Error)) showSummary(info);
  }
}

async function createCollection(ev) {
  ev.preventDefault();
  const name = $("#new-name").value.trim();
  const size = Number($("#new-size").value);
  const distance = $("#new-distance").value;
  const ok = await guarded(() => api("PUT", `/collections/${enc(name)}`, { vectors: { size, distance } }));
  if (ok === undefined) return;
  notice(`Created collection ${name}.`);
  $("#new-name").value = "";
  await guarded(loadCollections);
}

async function deleteCollection(name) {
  if (!window.confirm(`Delete collection "${name}" and all its points? This cannot be undone.`)) return;
  const ok = await guarded(() => api("DELETE", `/collections/${enc(name)}`));
  if (ok === undefined) return;
  notice(ok ? `Deleted collection ${name}.` : `Collection ${name} did not exist.`);
  if (state.collection === name) closeCollection();
  await guarded(loadCollections);
}

// ---- one collection --------------------------------------------------------------------------

function showSummary(info) {
  $("#detail-summary").textContent =
    `${info.points_count} points · ${info.segments_count} segments · ${vectorsText(info.config.params.vectors)} · ${info.status}`;
}

async function openCollection(name) {
  state.collection = name;
  $("#detail").hidden = false;
  $("#detail-name").textContent = name;
  for (const row of document.querySelectorAll("#collections tbody tr")) {
    row.classList.toggle("selected", row.dataset.collection === name);
  }
  $("#hits tbody").replaceChildren();
  $("#search-info").textContent = "";
  await guarded(async () => {
    showSummary(await api("GET", `/collections/${enc(name)}`));
    await loadPage(null, true);
  });
}

function closeCollection() {
  state.collection = null;
  $("#detail").hidden = true;
}

async function loadPage(offset, first) {
  const name = state.collection;
  const withVector = $("#browse-vectors").checked;
  const body = { limit: Number($("#page-size").value), with_payload: true, with_vector: withVector };
  if (offset !== null) body.offset = offset;
  const page = await api("POST", `/collections/${enc(name)}/points/scroll`, body);
  if (first) state.offsets = [];
  state.offsets.push(offset);
  state.next = page.next_page_offset;
  const tbody = $("#points tbody");
  tbody.replaceChildren();
  for (const p of page.points) {
    tbody.append(el("tr", { "data-id": String(p.id) },
      el("td", { class: "id" }, p.id),
      el("td", { class: "payload" }, json(p.payload)),
      el("td", { class: "vec-col" }, withVector ? json(p.vector) : "")));
  }
  $("#points").classList.toggle("show-vectors", withVector);
  $("#next-page").disabled = state.next === null || state.next === undefined;
  $("#page-info").textContent = `page ${state.offsets.length} · ${page.points.length} points`;
}

function parseJsonField(id, what) {
  const text = $(id).value.trim();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(`${what} is not valid JSON: ${e.message}`);
  }
}

async function search(ev) {
  ev.preventDefault();
  await guarded(async () => {
    const mode = $("#search-mode").value;
    let query;
    if (mode === "vector") {
      query = parseJsonField("#search-query", "The query vector");
      if (!Array.isArray(query)) throw new ApiError("The query vector must be a JSON array of numbers, e.g. [0.1, 0.2]");
    } else {
      const raw = $("#search-query").value.trim();
      if (!raw) throw new ApiError("Enter a point id (an integer or a UUID)");
      query = /^\d+$/.test(raw) ? Number(raw) : raw.replace(/^"|"$/g, "");
    }
    const body = {
      query,
      limit: Number($("#search-limit").value) || 10,
      with_payload: $("#search-payload").checked,
    };
    const filter = parseJsonField("#search-filter", "The filter");
    if (filter !== undefined) body.filter = filter;
    const started = performance.now();
    const result = await api("POST", `/collections/${enc(state.collection)}/points/query`, body);
    const ms = (performance.now() - started).toFixed(1);
    const tbody = $("#hits tbody");
    tbody.replaceChildren();
    result.points.forEach((p, i) => {
      tbody.append(el("tr", { "data-id": String(p.id) },
        el("td", { class: "num" }, i + 1),
        el("td", { class: "id" }, p.id),
        el("td", { class: "score num" }, p.score.toFixed(4)),
        el("td", { class: "payload" }, json(p.payload))));
    });
    $("#search-info").textContent = `${result.points.length} hits in ${ms} ms`;
  });
}

// ---- wiring ----------------------------------------------------------------------------------

function showKeyState() {
  $("#key-state").textContent = apiKey() ? "key saved in this browser" : "no key";
}

function switchTab(tab) {
  for (const b of document.querySelectorAll(".tab")) b.classList.toggle("active", b.dataset.tab === tab);
  $("#tab-browse").hidden = tab !== "browse";
  $("#tab-search").hidden = tab !== "search";
}

function init() {
  $("#api-key").value = apiKey();
  showKeyState();
  $("#key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    localStorage.setItem(KEY_STORAGE, $("#api-key").value.trim());
    showKeyState();
    guarded(loadCollections);
  });
  $("#clear-key").addEventListener("click", () => {
    localStorage.removeItem(KEY_STORAGE);
    $("#api-key").value = "";
    showKeyState();
  });
  $("#refresh").addEventListener("click", () => guarded(loadCollections));
  $("#create-form").addEventListener("submit", createCollection);
  $("#search-form").addEventListener("submit", search);
  $("#first-page").addEventListener("click", () => guarded(() => loadPage(null, true)));
  $("#next-page").addEventListener("click", () => guarded(() => loadPage(state.next, false)));
  $("#page-size").addEventListener("change", () => guarded(() => loadPage(null, true)));
  $("#browse-vectors").addEventListener("change", () => guarded(() => loadPage(null, true)));
  $("#search-mode").addEventListener("change", () => {
    $("#search-query").placeholder = $("#search-mode").value === "vector" ? "[0.1, 0.2, 0.3, 0.4]" : "42 or a UUID";
  });
  for (const b of document.querySelectorAll(".tab")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  fetch("/").then((r) => r.json()).then((v) => {
    $("#server-version").textContent = `v${v.rustvecdb_version} · Qdrant API ${v.version}`;
  }, () => {});
  guarded(loadCollections);
}

init();
