// neuroplastic explorer: the scenario builder, runs, plots and downloads. Everything goes through the local API;
// the YAML in the text box is what runs, exactly what `neuroplastic simulate` would read.
"use strict";

const $ = (id) => document.getElementById(id);
let LIB = null;          // /api/library
let STORIES = [];        // /api/stories
let treatments = [];     // builder state: [{kind, ...fields}]
let custom = false;      // true while the YAML box holds text the builder did not write
let current = null;      // id of the last finished run
let pinned = null;       // id of the run pinned as A
let running = null;      // id of the run in progress
let validateTimer = null;

// ---------------------------------------------------------------- YAML writing (block style, quoted when needed)
function scalar(v) {
  const s = String(v).trim();
  if (/^[A-Za-z0-9_.+-][A-Za-z0-9_. %\/+-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s)) return s;
  return JSON.stringify(s);
}
function flow(obj) {
  const parts = Object.entries(obj).filter(([, v]) => v !== "" && v !== null && v !== undefined).map(([k, v]) => {
    if (Array.isArray(v)) return `${k}: [${v.map((x) => (typeof x === "object" ? flow(x) : scalar(x))).join(", ")}]`;
    if (typeof v === "object") return `${k}: ${flow(v)}`;
    return `${k}: ${typeof v === "number" ? v : scalar(v)}`;
  });
  return `{${parts.join(", ")}}`;
}
const list = (s) => String(s || "").split(",").map((x) => x.trim()).filter((x) => x);

function treatmentDoc(t) {
  switch (t.kind) {
    case "drug": {
      const d = { drug: t.drug, dose: t.dose };
      if (t.formulation) d.formulation = t.formulation;
      if (t.at) d.at = list(t.at); else d.every = t.every;
      if (t.start) d.start = t.start;
      if (t.stop) d.stop = t.stop;
      return d;
    }
    case "ketamine": {
      const d = { drug: t.drug, dose: t.dose, route: t.drug === "ketamine" ? "iv" : "intranasal", at: list(t.at) };
      if (t.drug === "ketamine" && t.infusion) d.infusion = t.infusion;
      return d;
    }
    case "tms": {
      const m = { protocol: t.protocol, intensity: t.intensity, days: t.days };
      if (t.pulses) m.pulses = Number(t.pulses);
      if (t.target === "mni") m.target = { mni: list(t.mni).map(Number) }; else m.target = t.target;
      if (t.adjust === "stokes") m.adjust = "stokes";
      if (Number(t.sessions_per_day) > 1) { m.sessions_per_day = Number(t.sessions_per_day); m.session_interval = t.session_interval; }
      if (t.start) m.start = t.start;
      if (t.stop) m.stop = t.stop;
      return { tms: m };
    }
    case "vns": {
      const m = { current: t.current, pulse_width: t.pulse_width, frequency: t.frequency, on: t.on, off: t.off };
      if (t.start) m.start = t.start;
      if (t.stop) m.stop = t.stop;
      return { vns: m };
    }
    case "psychotherapy": {
      const m = { kind: t.therapy, every: t.every, sessions: Number(t.sessions) };
      if (t.start) m.start = t.start;
      return { psychotherapy: m };
    }
    case "placebo": {
      const m = { form: t.form };
      if (t.start) m.start = t.start;
      if (t.stop) m.stop = t.stop;
      return { placebo: m };
    }
  }
  return {};
}

function builderYaml() {
  const lines = [`name: ${scalar($("f-name").value || "scenario")}`, `duration: ${scalar($("f-duration").value)}`,
    `output_every: ${scalar($("f-output").value)}`, `seed: ${scalar($("f-seed").value)}`,
    `hypothesis: ${$("f-hypothesis").value}`, `ketamine_mechanism: ${$("f-ketmech").value}`];
  if ($("who-cohort").checked) {
    lines.push(`patients: ${flow({ n: Number($("f-n").value) || $("f-n").value, population: $("f-population").value })}`);
  } else {
    const p = { weight: $("f-weight").value, cyp2c19: $("f-2c19").value, cyp2d6: $("f-2d6").value,
      motor_depth: $("f-mdepth").value, dlpfc_depth: $("f-ddepth").value };
    lines.push(`patient: ${flow(p)}`);
  }
  if (treatments.length) {
    lines.push("treatments:");
    for (const t of treatments) lines.push(`  - ${flow(treatmentDoc(t))}`);
  } else {
    lines.push("treatments: []");
  }
  return lines.join("\n") + "\n";
}

// ---------------------------------------------------------------- the treatment cards
const FIELDS = {
  drug: [["drug", "select:drugs"], ["dose", "text"], ["every", "text"], ["at", "text", "or times: 0 d, 3 d"],
         ["formulation", "select:formulations"], ["start", "text"], ["stop", "text"]],
  ketamine: [["drug", "select:ketamines"], ["dose", "text"], ["infusion", "text"], ["at", "text", "0 days, 3 days"]],
  tms: [["protocol", "select:tms_protocols"], ["pulses", "text"], ["intensity", "text"], ["target", "select:tms_targets"],
        ["mni", "text", "-38, 44, 26"], ["adjust", "select:adjust"], ["days", "select:days"],
        ["sessions_per_day", "text"], ["session_interval", "text"], ["start", "text"], ["stop", "text"]],
  vns: [["current", "text"], ["pulse_width", "text"], ["frequency", "text"], ["on", "text"], ["off", "text"],
        ["start", "text"], ["stop", "text"]],
  psychotherapy: [["therapy", "select:psychotherapy_kinds"], ["every", "text"], ["sessions", "text"], ["start", "text"]],
  placebo: [["form", "select:placebo_forms"], ["start", "text"], ["stop", "text"]],
};
const DEFAULTS = {
  drug: { drug: "escitalopram", dose: "10 mg", every: "1 day" },
  ketamine: { drug: "ketamine", dose: "0.5 mg/kg", infusion: "40 min", at: "0 days" },
  tms: { protocol: "10hz", pulses: "3000", intensity: "120% rMT", target: "5cm", adjust: "none", days: "weekdays",
         sessions_per_day: "1", session_interval: "50 min", stop: "6 weeks", mni: "-38, 44, 26" },
  vns: { current: "1.0 mA", pulse_width: "250 us", frequency: "20 Hz", on: "30 s", off: "5 min", start: "2 weeks" },
  psychotherapy: { therapy: "cbt", every: "1 week", sessions: "16" },
  placebo: { form: "pill" },
};
// the schema's name of a builder field (for placing an error next to it)
function schemaField(i, t, key) {
  const kind = { tms: "tms", vns: "vns", psychotherapy: "psychotherapy", placebo: "placebo" }[t.kind];
  const name = { therapy: "kind", mni: "target" }[key] || key;
  return kind ? `treatments[${i}].${kind}.${name}` : `treatments[${i}].${name === "infusion" ? "infusion" : name}`;
}
function options(kind) {
  if (kind === "drugs") return Object.keys(LIB.drugs).filter((d) => !LIB.drugs[d].routes.some((r) => r !== "oral"));
  if (kind === "ketamines") return ["ketamine", "esketamine"];
  if (kind === "formulations") return [""].concat([...new Set(Object.values(LIB.drugs).flatMap((d) => d.formulations))]);
  if (kind === "adjust") return ["none", "stokes"];
  if (kind === "days") return ["weekdays", "daily"];
  return LIB[kind] || [];
}

function renderTreatments() {
  const box = $("treatments");
  box.innerHTML = "";
  treatments.forEach((t, i) => {
    const card = document.createElement("div");
    card.className = "card";
    card.dataset.index = i;
    const h = document.createElement("h3");
    h.textContent = `${i + 1}. ${t.kind}`;
    const rm = document.createElement("button");
    rm.type = "button";
    rm.textContent = "remove";
    rm.addEventListener("click", () => { treatments.splice(i, 1); renderTreatments(); changed(); });
    h.appendChild(rm);
    card.appendChild(h);
    const grid = document.createElement("div");
    grid.className = "grid";
    for (const [key, type, hint] of FIELDS[t.kind]) {
      if (key === "mni" && t.target !== "mni") continue;
      if (key === "session_interval" && !(Number(t.sessions_per_day) > 1)) continue;
      if (key === "formulation" && !(LIB.drugs[t.drug] && LIB.drugs[t.drug].formulations.length)) continue;
      if (key === "infusion" && t.drug !== "ketamine") continue;
      const lab = document.createElement("label");
      lab.textContent = key.replace(/_/g, " ");
      let el;
      if (type.startsWith("select:")) {
        el = document.createElement("select");
        let opts = options(type.slice(7));
        if (key === "formulation") opts = [""].concat(LIB.drugs[t.drug].formulations);
        for (const o of opts) { const op = document.createElement("option"); op.value = o; op.textContent = o || "(default)"; el.appendChild(op); }
      } else {
        el = document.createElement("input");
        if (hint) el.placeholder = hint;
      }
      el.value = t[key] === undefined ? "" : t[key];
      el.dataset.field = schemaField(i, t, key);
      el.addEventListener("change", () => {
        t[key] = el.value;
        if (["target", "sessions_per_day", "drug"].includes(key)) renderTreatments();
        changed();
      });
      el.addEventListener("input", () => { t[key] = el.value; changed(); });
      lab.appendChild(el);
      grid.appendChild(lab);
    }
    card.appendChild(grid);
    box.appendChild(card);
  });
}

// ---------------------------------------------------------------- validation, with the error next to its field
function clearErrors() {
  document.querySelectorAll(".invalid").forEach((e) => e.classList.remove("invalid"));
  document.querySelectorAll(".field-error").forEach((e) => e.remove());
  $("general-error").textContent = "";
}
function showError(err) {
  clearErrors();
  if (!err) return;
  let field = err.field || "";
  let el = null;
  while (field) {   // the most specific builder field the error names: drop trailing parts until one matches
    el = document.querySelector(`[data-field="${CSS.escape(field)}"]`);
    if (el) break;
    const shorter = field.replace(/(\.[^.\[\]]+|\[\d+\])$/, "");
    if (shorter === field) break;
    field = shorter;
  }
  if (el && !custom && el.id !== "yaml") {
    el.classList.add("invalid");
    const span = document.createElement("span");
    span.className = "field-error";
    span.textContent = err.error;
    el.insertAdjacentElement("afterend", span);
  } else {
    $("yaml").classList.add("invalid");
    $("general-error").textContent = err.error;
  }
}
async function validateNow() {
  const text = $("yaml").value;
  const r = await fetch("/api/validate", { method: "POST", body: text, headers: { "Content-Type": "application/x-yaml" } });
  const j = await r.json();
  if (r.ok) { clearErrors(); $("run").disabled = !!running; return true; }
  showError(j);
  $("run").disabled = true;
  return false;
}
function changed() {
  if (!custom) $("yaml").value = builderYaml();
  updateYamlLink();
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validateNow, 250);
}
function updateYamlLink() {
  const a = $("download-yaml");
  if (a.dataset.url) URL.revokeObjectURL(a.dataset.url);
  const url = URL.createObjectURL(new Blob([$("yaml").value], { type: "application/x-yaml" }));
  a.href = url;
  a.dataset.url = url;
}
function setCustom(on) {
  custom = on;
  $("builder").querySelectorAll(".grid input, .grid select, #add-buttons button, .card button").forEach((e) => { e.disabled = on; });
  $("back-to-builder").classList.toggle("hidden", !on);
  $("yaml-mode").textContent = on ? "Your own YAML: the builder is paused (press “Back to the builder” to use it again)."
    : "Written by the builder above; edit it directly or upload a file (the builder then steps aside until you press “Back to the builder”).";
}

// ---------------------------------------------------------------- runs
function setStatus(text) { $("status").textContent = text; }
async function run() {
  if (!(await validateNow())) return;
  $("run").disabled = true;
  $("cancel").disabled = false;
  $("downloads").classList.add("hidden");
  const body = { yaml: $("yaml").value, compare_hypotheses: $("compare-hyp").checked };
  const r = await fetch("/api/jobs", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
  const j = await r.json();
  if (!r.ok) { showError(j); $("run").disabled = false; $("cancel").disabled = true; return; }
  running = j.id;
  $("progress").classList.remove("hidden");
  $("progress").removeAttribute("value");
  poll(j.id);
}
async function poll(id) {
  const r = await fetch(`/api/jobs/${id}`);
  const s = await r.json();
  if (s.status === "queued" || s.status === "running") {
    if (s.total > 1) { $("progress").max = s.total; $("progress").value = s.done; }
    setStatus(`running… ${s.elapsed_s.toFixed(1)} s` + (s.total > 1 ? ` (${s.done} of ${s.total} chunks)` : ""));
    setTimeout(() => poll(id), 300);
    return;
  }
  running = null;
  $("cancel").disabled = true;
  $("run").disabled = false;
  $("progress").classList.add("hidden");
  if (s.status === "done") {
    current = id;
    $("pin").disabled = false;
    setStatus("drawing…");
    await draw();
    setStatus(`done in ${s.elapsed_s.toFixed(1)} s`);
    for (const [a, f] of [["dl-nc", "results.nc"], ["dl-csv", "results.csv"], ["dl-png", "overview.png"]]) $(a).href = `/api/jobs/${id}/${f}`;
    $("downloads").classList.remove("hidden");
  } else if (s.status === "cancelled") {
    setStatus("cancelled");
  } else {
    setStatus("the run stopped");
    showError(s.error);
  }
}
async function draw() {
  const ids = pinned && pinned !== current ? [pinned, current] : [current];
  const r = await fetch("/api/plots", { method: "POST", body: JSON.stringify({ jobs: ids }), headers: { "Content-Type": "application/json" } });
  const p = await r.json();
  if (!r.ok) { setStatus(p.error || "could not draw"); return; }
  for (const [div, key] of [["plot-rates", "rates"], ["plot-timeline", "timeline"]]) {
    $(div).innerHTML = "";
    await Bokeh.embed.embed_item(p[key], div);
  }
  const rows = p.numbers.map((n) => `<tr><td>${escapeHtml(n.label)}</td><td>${n.response}%</td><td>${n.remission}%</td></tr>`).join("");
  $("numbers").innerHTML = `<table><tr><th>run</th><th>response</th><th>remission</th></tr>${rows}</table>`;
  $("numbers").dataset.runs = String(ids.length);
}
function escapeHtml(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c])); }

// ---------------------------------------------------------------- stories
function loadStory(st) {
  setCustom(true);
  $("yaml").value = st.yaml;
  $("compare-hyp").checked = !!st.compare_hypotheses;
  $("caption").textContent = st.caption;
  $("caption").classList.remove("hidden");
  updateYamlLink();
  validateNow().then((ok) => { if (ok) run(); });
}

// ---------------------------------------------------------------- start
function fillSelect(id, values, value) {
  const el = $(id);
  el.innerHTML = "";
  for (const v of values) { const o = document.createElement("option"); o.value = v; o.textContent = v; el.appendChild(o); }
  if (value !== undefined) el.value = value;
}
async function start() {
  LIB = await (await fetch("/api/library")).json();
  STORIES = await (await fetch("/api/stories")).json();
  fillSelect("f-hypothesis", LIB.hypotheses, "plasticity");
  fillSelect("f-ketmech", LIB.ketamine_mechanisms, "both");
  fillSelect("f-2c19", ["poor", "intermediate", "normal", "rapid", "ultrarapid"], "normal");
  fillSelect("f-2d6", ["poor", "intermediate", "normal", "ultrarapid"], "normal");
  fillSelect("f-population", LIB.populations.filter((p) => p !== "healthy"), "mdd");
  for (const st of STORIES) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = st.title;
    b.dataset.story = st.id;
    b.addEventListener("click", () => loadStory(st));
    $("stories").appendChild(b);
  }
  document.querySelectorAll("[data-add]").forEach((b) => b.addEventListener("click", () => {
    treatments.push({ kind: b.dataset.add, ...DEFAULTS[b.dataset.add] });
    renderTreatments();
    changed();
  }));
  $("builder").querySelectorAll(".grid input, .grid select").forEach((el) => {
    el.addEventListener("input", changed);
    el.addEventListener("change", () => {
      $("one-patient").classList.toggle("hidden", $("who-cohort").checked);
      $("cohort").classList.toggle("hidden", !$("who-cohort").checked);
      changed();
    });
  });
  $("yaml").addEventListener("input", () => { setCustom(true); $("caption").classList.add("hidden"); changed(); });
  $("back-to-builder").addEventListener("click", () => { setCustom(false); $("caption").classList.add("hidden"); changed(); });
  $("run").addEventListener("click", run);
  $("cancel").addEventListener("click", () => { if (running) fetch(`/api/jobs/${running}`, { method: "DELETE" }); });
  $("pin").addEventListener("click", () => { pinned = current; $("unpin").classList.remove("hidden"); setStatus("pinned as A: the next run is drawn beside it"); });
  $("unpin").addEventListener("click", () => { pinned = null; $("unpin").classList.add("hidden"); if (current) draw(); });
  $("upload").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    $("yaml").value = await f.text();
    setCustom(true);
    changed();
  });
  treatments = [{ kind: "drug", ...DEFAULTS.drug }];
  renderTreatments();
  changed();
  document.body.dataset.ready = "1";
}
start();
