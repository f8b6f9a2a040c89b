// The report's page: decompress the embedded data once, then draw what is looked at.
// Every string that came from a case file or a framework goes into the page as text
// (textContent), never as markup; only http(s) addresses become links.
"use strict";

const STATUSES = JSON.parse(document.getElementById("statuses").textContent);
const PAGE = 50;
const NONFINITE = {"inf": Infinity, "-inf": -Infinity, "+inf": Infinity, "nan": NaN};

function colour(status) {
  return Object.hasOwn(STATUSES.colours, status) ? STATUSES.colours[status] : "#999";
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "href") { if (/^https?:\/\//i.test(value)) node.setAttribute("href", value); }
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === "") continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function statusChip(status) {
  if (!status) return "";
  return el("span", {class: "status", style: `background: ${colour(status)}`}, status);
}

function link(url) {
  return /^https?:\/\//i.test(url || "") ? el("a", {href: url, rel: "noopener noreferrer"}, url) : (url || "");
}

async function loadData() {
  const text = document.getElementById("report-data").textContent.trim();
  const bytes = Uint8Array.from(atob(text), c => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(stream).text());
}

function Rows(payload) {
  const cols = payload.columns;
  const cache = {};
  this.count = payload.count;
  this.cases = payload.cases;
  this.column = name => {
    if (cache[name]) return cache[name];
    const col = cols[name];
    if (!col) return (cache[name] = new Array(this.count).fill(""));
    if (col.codes === null) return (cache[name] = col.plain.map(v => v === null ? "" : v));
    return (cache[name] = col.codes.map(c => c < 0 ? "" : col.values[c]));
  };
  this.get = (name, i) => this.column(name)[i];
}

function fmt(v) {
  if (v === "" || v === null || v === undefined) return "";
  if (typeof v === "number") return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : String(+v.toPrecision(3));
  return String(v);
}

// A row's value and gradient statuses, worst last (order from the report's Python).
function worst(statuses) {
  let at = -1;
  for (const s of statuses) at = Math.max(at, STATUSES.worst_last.indexOf(s));
  return STATUSES.worst_last[at];
}

// A cell of text as a number where it is one ("inf" too); null where it is blank or not a number.
function asNumber(v) {
  if (typeof v === "number") return v;
  if (v === "" || v === null || v === undefined) return null;
  if (Object.hasOwn(NONFINITE, v)) return NONFINITE[v];
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
}

// Sort order: numbers (-inf .. inf), then NaN, then text, then blanks.
function compareCells(a, b) {
  const [x, y] = [asNumber(a), asNumber(b)];
  const rank = (v, n) => v === "" || v === null || v === undefined ? 3 : n === null ? 2 : Number.isNaN(n) ? 1 : 0;
  const [rx, ry] = [rank(a, x), rank(b, y)];
  if (rx !== ry) return rx - ry;
  if (rx === 0) return x === y ? 0 : x < y ? -1 : 1;
  return rx === 2 ? String(a).localeCompare(String(b)) : 0;
}

// ---------------------------------------------------------------- findings
function drawFindings(data, onRows) {
  const holder = document.getElementById("findings-list");
  const all = data.findings;
  let shown = Math.min(8, all.length);
  const draw = () => {
    holder.replaceChildren(el("ol", {class: "findings"}, all.slice(0, shown).map((f, k) => findingItem(f, k, onRows))));
    const more = document.getElementById("findings-more");
    more.hidden = shown >= all.length;
    more.textContent = `show all ${all.length} findings`;
  };
  document.getElementById("findings-more").addEventListener("click", () => { shown = all.length; draw(); });
  if (!all.length) holder.replaceChildren(el("p", {}, "No deviation from the mathematics in this run."));
  else draw();
}

function findingItem(f, k, onRows) {
  const more = el("div", {class: "more", hidden: true},
    el("div", {}, el("b", {}, "Why: "), f.reason),
    f.link ? el("div", {}, el("b", {}, "Source: "), link(f.link)) : "",
    el("div", {}, el("b", {}, "Severity: "), f.severity_words),
    el("div", {}, el("b", {}, "Where: "), `${f.bindings.join(", ")} — ${f.dtypes.join(", ")} — cases: ${f.cases.slice(0, 12).join(", ")}${f.cases.length > 12 ? ", …" : ""}`),
    el("button", {type: "button", onclick: () => onRows(`${f.quantity === "gradient" ? "gradient" : "value"} finding: ${f.headline}`, f.rows)},
       `show its ${f.rows.length} row${f.rows.length === 1 ? "" : "s"}`));
  const line = el("div", {class: "line", title: "click for the reason and the evidence"}, f.line);
  line.addEventListener("click", () => { more.hidden = !more.hidden; });
  return el("li", {class: `sev-${f.severity}`, "data-finding": k}, line, more);
}

// ---------------------------------------------------------------- agreement
function drawAgreement(data, rows) {
  const cells = data.agreement;
  const losses = [...new Set(cells.map(c => c.loss))].sort();
  const frameworks = [...new Set(cells.map(c => c.framework))].sort();
  const byKey = new Map(cells.map(c => [c.loss + "\u0000" + c.framework, c]));
  const head = el("thead", {}, el("tr", {}, el("th", {}, ""), frameworks.map(f => el("th", {scope: "col"}, f))));
  const body = el("tbody", {}, losses.map(loss => el("tr", {}, el("th", {scope: "row"}, loss), frameworks.map(fw => {
    const c = byKey.get(loss + "\u0000" + fw);
    if (!c) return el("td", {}, el("button", {type: "button", class: "a-empty", disabled: true, title: `${fw} has no ${loss} binding`}, "·"));
    const pct = Math.floor(100 * c.matching / c.rows);
    const title = `${fw} on ${loss}: ${c.matching} of ${c.rows} faithful evaluations match the mathematics` +
      (c.deviating ? `; ${c.deviating} deviate` : "") + (c.failing ? ` (${c.failing} failing)` : "");
    return el("td", {}, el("button", {type: "button", class: `a-${c.agreement}`, title,
      "data-loss": loss, "data-framework": fw, onclick: () => agreementDetail(rows, data, loss, fw, c)},
      c.agreement === "agrees" ? "✓" : `${pct}%`));
  }))));
  document.getElementById("agreement-matrix").replaceChildren(el("table", {class: "agreement"}, head, body));
}

function agreementDetail(rows, data, loss, framework, cell) {
  const findingOf = rowFindings(data);
  const groups = new Map();
  for (let i = 0; i < rows.count; i++) {
    if (rows.get("loss", i) !== loss || rows.get("framework", i) !== framework) continue;
    if (rows.get("mode", i) !== "faithful" || rows.get("status", i) === "skipped") continue;
    const key = rows.get("configuration", i) + "\u0000" + rows.get("binding", i);
    const g = groups.get(key) || {configuration: rows.get("configuration", i), binding: rows.get("binding", i), n: 0, ok: 0, why: new Set(), rows: []};
    const grad = rows.get("grad_status", i);
    const ok = rows.get("status", i) === "pass" && !STATUSES.deviating.includes(grad);
    g.n++; if (ok) g.ok++; else { g.rows.push(i); for (const f of findingOf.get(i) || []) g.why.add(data.findings[f].headline); }
    groups.set(key, g);
  }
  const table = el("table", {class: "plain"}, el("tr", {}, el("th", {}, "configuration"), el("th", {}, "binding"), el("th", {}, "match"), el("th", {}, "why not")),
    [...groups.values()].sort((a, b) => (a.ok / a.n) - (b.ok / b.n)).map(g => el("tr", {},
      el("td", {}, g.configuration), el("td", {}, g.binding), el("td", {}, `${g.ok}/${g.n}`),
      el("td", {class: "why", title: [...g.why].join("\n")}, g.rows.length ? [[...g.why].map(w => w.length > 90 ? w.slice(0, 89) + "…" : w).join("; ") || "see the rows", " ",
        el("button", {type: "button", onclick: () => showRows(`${g.binding} on ${g.configuration}`, g.rows)}, "rows")] : ""))));
  document.getElementById("agreement-detail").replaceChildren(
    el("b", {}, `${framework} on ${loss}: ${cell.matching} of ${cell.rows} match`), " ",
    el("button", {type: "button", onclick: () => document.getElementById("agreement-detail").replaceChildren()}, "close"), table);
}

let _rowFindings = null;
function rowFindings(data) {
  if (_rowFindings) return _rowFindings;
  _rowFindings = new Map();
  data.findings.forEach((f, k) => f.rows.forEach(i => (_rowFindings.get(i) || _rowFindings.set(i, []).get(i)).push(k)));
  return _rowFindings;
}

// ---------------------------------------------------------------- heatmaps
function drawFamilies(rows) {
  const holder = document.getElementById("families");
  const losses = [...new Set(rows.column("loss"))].sort();
  for (const loss of losses) {
    const box = el("div", {class: "heat-holder"});
    const details = el("details", {class: "family", "data-loss": loss}, el("summary", {}, loss), box);
    details.addEventListener("toggle", () => { if (details.open && !box.firstChild) box.append(heatmap(rows, loss)); });
    holder.append(details);
  }
}

function heatmap(rows, loss) {
  const cells = new Map(), cases = [], bindings = new Set();
  for (let i = 0; i < rows.count; i++) {
    if (rows.get("loss", i) !== loss) continue;
    const c = rows.get("case_id", i), b = rows.get("binding", i);
    if (!cells.has(c)) { cells.set(c, new Map()); cases.push(c); }
    const m = cells.get(c);
    (m.get(b) || m.set(b, []).get(b)).push(i);
    bindings.add(b);
  }
  const cols = [...bindings].sort();
  const head = el("thead", {}, el("tr", {}, el("th", {class: "corner"}, `${cases.length} cases × ${cols.length} bindings`), cols.map(b => el("th", {scope: "col"}, b))));
  const body = el("tbody", {}, cases.map(c => el("tr", {}, el("th", {scope: "row"}, c), cols.map(b => {
    const idx = cells.get(c).get(b);
    if (!idx) return el("td", {});
    const status = worst(idx.flatMap(i => [rows.get("status", i), rows.get("grad_status", i)].filter(Boolean)));
    const title = `${c} · ${b}\n` + idx.map(i => `${rows.get("dtype", i)}: ${rows.get("status", i)}` +
      (rows.get("grad_status", i) ? `, gradient ${rows.get("grad_status", i)}` : "")).join("\n");
    return el("td", {style: `background: ${colour(status)}`, title, "data-status": status,
      onclick: () => showRows(`${c} on ${b}`, idx)});
  }))));
  return el("table", {class: "heat"}, head, body);
}

// ---------------------------------------------------------------- compare
function drawCompare(rows) {
  const frameworks = [...new Set(rows.column("framework"))].sort();
  const bindings = [...new Set(rows.column("binding"))].sort();
  const options = () => [el("optgroup", {label: "frameworks"}, frameworks.map(f => el("option", {value: "f:" + f}, f))),
                         el("optgroup", {label: "bindings"}, bindings.map(b => el("option", {value: "b:" + b}, b)))];
  const a = document.getElementById("compare-a"), b = document.getElementById("compare-b");
  a.append(...options()); b.append(...options());
  // Two frameworks people port between, else any two; with one framework, two of its bindings.
  const popular = ["torch", "keras", "jax", "tensorflow"].filter(f => frameworks.includes(f));
  const pair = frameworks.length > 1 ? [...new Set([...popular, ...frameworks])].slice(0, 2).map(f => "f:" + f)
    : bindings.slice(0, 2).map(x => "b:" + x);
  [a.value, b.value] = [pair[0] || "", pair[1] || pair[0] || ""];
  const redraw = () => compare(rows, a.value, b.value);
  a.addEventListener("change", redraw); b.addEventListener("change", redraw);
  redraw();
}

function side(rows, choice) {
  // Per (case, dtype): the side's best row (one that passes, where its framework has several bindings).
  const [kind, name] = [choice.slice(0, 1), choice.slice(2)];
  const column = rows.column(kind === "f" ? "framework" : "binding");
  const best = new Map();
  for (let i = 0; i < rows.count; i++) {
    // The porter's question is about APIs called the right way: faithful rows only.
    if (column[i] !== name || rows.get("mode", i) !== "faithful" || rows.get("status", i) === "skipped") continue;
    const key = rows.get("case_id", i) + "\u0000" + rows.get("dtype", i);
    const held = best.get(key);
    if (held === undefined || (rows.get("status", held) !== "pass" && rows.get("status", i) === "pass")) best.set(key, i);
  }
  return best;
}

function relativeGap(x, y) {
  const [a, b] = [asNumber(x), asNumber(y)];
  if (a === null || b === null) return x === y ? "same" : "";
  if (a === b || (Number.isNaN(a) && Number.isNaN(b))) return "0";
  if (!Number.isFinite(a) || !Number.isFinite(b)) return "not finite";
  return (Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300)).toExponential(1);
}

function compare(rows, choiceA, choiceB) {
  if (choiceA === choiceB) {
    document.getElementById("compare-result").replaceChildren(el("p", {id: "compare-summary", class: "muted"},
      "Choose two different frameworks or bindings."));
    return;
  }
  const A = side(rows, choiceA), B = side(rows, choiceB);
  const pairs = [...A.keys()].filter(k => B.has(k)).map(k => [A.get(k), B.get(k)]);
  const ok = i => rows.get("status", i) === "pass";
  const count = {both: 0, a: 0, b: 0, neither: 0};
  for (const [i, j] of pairs) count[ok(i) && ok(j) ? "both" : ok(i) ? "a" : ok(j) ? "b" : "neither"]++;
  const [nameA, nameB] = [choiceA.slice(2), choiceB.slice(2)];
  pairs.sort((p, q) => (ok(p[0]) && ok(p[1])) - (ok(q[0]) && ok(q[1])));
  const summary = el("p", {id: "compare-summary"}, `${pairs.length} (case, dtype) pair${pairs.length === 1 ? "" : "s"} both run faithfully: both match the mathematics in ${count.both}; only ${nameA} in ${count.a}; only ${nameB} in ${count.b}; neither in ${count.neither}.`);
  const shown = pairs.slice(0, 300);
  const table = el("table", {class: "plain", id: "compare-table"},
    el("tr", {}, ["case", "dtype", "oracle", `${nameA}: binding`, "value", "status", `${nameB}: binding`, "value", "status", "relative gap"].map(h => el("th", {}, h))),
    shown.map(([i, j]) => el("tr", {},
      el("td", {}, rows.get("case_id", i)), el("td", {}, rows.get("dtype", i)), el("td", {}, rows.get("oracle", i)),
      el("td", {}, rows.get("binding", i)), el("td", {title: rows.get("explanation", i)}, rows.get("value", i)), el("td", {}, statusChip(rows.get("status", i))),
      el("td", {}, rows.get("binding", j)), el("td", {title: rows.get("explanation", j)}, rows.get("value", j)), el("td", {}, statusChip(rows.get("status", j))),
      el("td", {}, relativeGap(rows.get("value", i), rows.get("value", j))))));
  document.getElementById("compare-result").replaceChildren(summary, table,
    pairs.length > shown.length ? el("p", {class: "muted"}, `the first ${shown.length} of ${pairs.length}, disagreements first; \`conformance compare\` prints every pair`) : "");
}

// ---------------------------------------------------------------- results table
const TABLE = [
  {name: "case_id", label: "case", width: "15%"}, {name: "loss", label: "loss", width: "8%", filter: true},
  {name: "binding", label: "binding", width: "14%", filter: true}, {name: "dtype", label: "dtype", width: "5.5%", filter: true},
  {name: "status", label: "status", width: "6.5%", filter: true, chip: true},
  {name: "grad_status", label: "gradient", width: "6.5%", filter: true, chip: true},
  {name: "value", label: "value", width: "8%", cut: true}, {name: "oracle", label: "oracle", width: "8%", cut: true},
  {name: "ulp_err", label: "ULP", width: "6%", num: true}, {name: "explanation", label: "why", width: "22.5%", cut: true},
];
const EXTRA_FILTERS = [{name: "framework", label: "framework"}, {name: "mode", label: "mode"}, {name: "device", label: "device"}];
const state = {filters: {}, search: "", only: null, onlyLabel: "", sort: null, page: 0};
let RESULTS = null;

function drawResults(rows) {
  RESULTS = rows;
  const filters = document.getElementById("results-filters");
  for (const col of [...TABLE.filter(c => c.filter), ...EXTRA_FILTERS]) {
    const counts = new Map();
    for (const v of rows.column(col.name)) counts.set(v, (counts.get(v) || 0) + 1);
    if (counts.size < 2 && col.name !== "status") continue;
    const select = el("select", {"data-column": col.name, onchange: e => { state.filters[col.name] = e.target.value; state.page = 0; redrawResults(); }},
      el("option", {value: "*"}, `all (${rows.count})`),
      [...counts.keys()].sort().map(v => el("option", {value: v}, `${v === "" ? "(none)" : v} (${counts.get(v)})`)));
    filters.append(el("label", {}, col.label, select));
  }
  filters.append(el("label", {}, "search", el("input", {type: "search", id: "results-search", placeholder: "case id or text",
    oninput: e => { state.search = e.target.value.toLowerCase(); state.page = 0; redrawResults(); }})));
  const head = el("tr", {}, TABLE.map(c => el("th", {"data-column": c.name, title: "sort", onclick: () => {
    state.sort = state.sort && state.sort.name === c.name ? {name: c.name, dir: -state.sort.dir} : {name: c.name, dir: 1};
    redrawResults();
  }}, c.label)));
  document.getElementById("results-table").replaceChildren(
    el("colgroup", {}, TABLE.map(c => el("col", {style: `width: ${c.width}`}))), el("thead", {}, head), el("tbody", {}));
  redrawResults();
}

function selected() {
  const rows = RESULTS, out = [];
  const active = Object.entries(state.filters).filter(([, v]) => v !== "*");
  const only = state.only ? new Set(state.only) : null;
  for (let i = 0; i < rows.count; i++) {
    if (only && !only.has(i)) continue;
    if (active.some(([name, v]) => rows.get(name, i) !== v)) continue;
    if (state.search && !(rows.get("case_id", i).toLowerCase().includes(state.search) ||
        rows.get("explanation", i).toLowerCase().includes(state.search) || rows.get("binding", i).toLowerCase().includes(state.search))) continue;
    out.push(i);
  }
  if (state.sort) {
    const col = RESULTS.column(state.sort.name), dir = state.sort.dir;
    out.sort((i, j) => dir * compareCells(col[i], col[j]));
  }
  return out;
}

function redrawResults() {
  const rows = RESULTS, picked = selected();
  const pages = Math.max(1, Math.ceil(picked.length / PAGE));
  state.page = Math.min(state.page, pages - 1);
  const body = document.querySelector("#results-table tbody");
  body.replaceChildren(...picked.slice(state.page * PAGE, (state.page + 1) * PAGE).map(i => resultRow(rows, i)));
  const pager = document.getElementById("results-pager");
  pager.replaceChildren(
    el("span", {id: "results-count"}, `${picked.length} of ${rows.count} rows` + (state.only ? ` (${state.onlyLabel})` : "")),
    state.only ? el("button", {type: "button", onclick: () => { state.only = null; redrawResults(); }}, "show every row") : "",
    el("button", {type: "button", disabled: state.page === 0, onclick: () => { state.page--; redrawResults(); }}, "previous"),
    `page ${state.page + 1} of ${pages}`,
    el("button", {type: "button", disabled: state.page >= pages - 1, onclick: () => { state.page++; redrawResults(); }}, "next"));
}

function resultRow(rows, i) {
  const tr = el("tr", {class: "row", "data-row": i}, TABLE.map(c => {
    const v = rows.get(c.name, i);
    const cls = [c.cut ? "cut" : "", c.num ? "num" : ""].join(" ").trim() || null;
    return el("td", {class: cls, title: c.cut ? String(v) : null}, c.chip ? statusChip(v) : (c.num ? fmt(v) : v));
  }));
  tr.addEventListener("click", () => {
    const next = tr.nextElementSibling;
    if (next && next.classList.contains("card")) { next.remove(); return; }
    tr.after(el("tr", {class: "card"}, el("td", {colspan: TABLE.length}, card(rows, i))));
  });
  return tr;
}

function showRows(label, indices) {
  // The rows asked for, all of them: filters and search typed before would hide some.
  state.only = indices; state.onlyLabel = label; state.page = 0; state.filters = {}; state.search = "";
  document.querySelectorAll("#results-filters select").forEach(select => { select.value = "*"; });
  document.getElementById("results-search").value = "";
  redrawResults();
  document.getElementById("results").scrollIntoView();
}

let _byCaseDtype = null;
function sameCase(rows, i) {
  if (!_byCaseDtype) {
    _byCaseDtype = new Map();
    for (let k = 0; k < rows.count; k++) {
      const key = rows.get("case_id", k) + "\u0000" + rows.get("dtype", k);
      (_byCaseDtype.get(key) || _byCaseDtype.set(key, []).get(key)).push(k);
    }
  }
  return _byCaseDtype.get(rows.get("case_id", i) + "\u0000" + rows.get("dtype", i)) || [];
}

function card(rows, i) {
  const g = name => rows.get(name, i);
  const c = rows.cases[g("case_id")] || {};
  const facts = [
    ["case", `${g("case_id")} — ${c.title || ""}`], ["file", `${c.file}:${c.line}`],
    ["configuration", `${g("configuration")} (${g("mode")})`], ["binding", `${g("binding")} ${g("framework_version")} on ${g("device")}`],
    ["value", `${g("value")} (${g("value_dtype") || g("dtype")})`], ["oracle", g("oracle")],
    ["errors", `abs ${fmt(g("abs_err"))}, rel ${fmt(g("rel_err"))}, ${fmt(g("ulp_err"))} ULP`],
    ["why", g("explanation")], ["measured", g("interpretation")],
    ["gradient", g("grad_status") ? `${g("grad_status")}: ${g("grad_explanation")}` : "not taken"],
    ["gradient values", g("grad") ? `${g("grad")} (oracle ${g("grad_oracle")}), largest error ${fmt(g("grad_max_abs_err"))}` : ""],
    ["raised", g("raised")], ["message", g("message")], ["link", g("link") ? link(g("link")) : ""],
    ["source", c.source ? link(c.source) : ""], ["warnings", g("warnings")],
  ].filter(([, v]) => v !== "" && v !== null && v !== undefined);
  const others = sameCase(rows, i);
  return el("div", {class: "card-body"},
    c.description ? el("p", {}, c.description) : "",
    el("table", {class: "plain"}, facts.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, v)))),
    el("p", {}, el("b", {}, "Recipe"), " (paste into Python to reproduce):"), el("pre", {class: "recipe"}, g("recipe")),
    el("details", {}, el("summary", {}, `every binding on this case in ${g("dtype")} (${others.length})`),
      el("table", {class: "plain"}, others.map(k => el("tr", {}, el("td", {}, rows.get("binding", k)), el("td", {}, statusChip(rows.get("status", k))),
        el("td", {}, rows.get("value", k)), el("td", {}, fmt(rows.get("ulp_err", k)) ? fmt(rows.get("ulp_err", k)) + " ULP" : ""))))),
    el("details", {}, el("summary", {}, "the case's numbers"), el("pre", {}, c.data || "")));
}

// ---------------------------------------------------------------- pitfalls
function drawPitfalls(data) {
  const list = data.pitfalls;
  const holder = document.getElementById("pitfalls-list");
  if (!list.length) { holder.replaceChildren(el("p", {class: "muted"}, "No as_is case in this run.")); return; }
  holder.replaceChildren(el("ol", {class: "findings"}, list.map((f, k) => findingItem(f, k, showRows))));
}

// ---------------------------------------------------------------- start
(async () => {
  const data = await loadData();
  const rows = new Rows(data.rows);
  drawFindings(data, showRows);
  drawAgreement(data, rows);
  drawResults(rows);
  drawCompare(rows);
  drawFamilies(rows);
  drawPitfalls(data);
  document.body.dataset.ready = "1";
})().catch(error => {
  document.getElementById("load-error").textContent = `The report's data could not be read: ${error}`;
  throw error;
});
