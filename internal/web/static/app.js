// The live view of a paused nsscript lab: polls /api/state, draws each
// namespace's links, and shows the reachability matrix (POST /api/matrix
// probes it again).
"use strict";

const pollMs = 1000;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) e.append(k);
  return e;
}

function row(cells, tag) {
  return el("tr", {}, ...cells.map(c => c instanceof Node ? el(tag || "td", {}, c) : el(tag || "td", {}, String(c))));
}

function linkRow(ns, l) {
  const s = l.stats;
  const tr = el("tr", {"data-link": ns + "/" + l.name, "data-state": l.state},
    el("td", {className: "name"}, l.name),
    el("td", {}, l.kind),
    el("td", {title: "kernel: " + l.oper}, el("span", {className: "state " + l.state}, l.state)),
    el("td", {className: "addrs"}, (l.addrs || []).join(" ")),
    el("td", {}, [l.master ? "master " + l.master : "", l.peer ? "peer " + l.peer : ""].filter(Boolean).join(", ")),
    el("td", {className: "num"}, String(l.mtu)));
  for (const k of ["rx_packets", "tx_packets", "rx_bytes", "tx_bytes"]) {
    tr.append(el("td", {className: "num"}, String(s[k])));
  }
  tr.append(el("td", {className: "num"}, (s.rx_dropped + s.tx_dropped) + " / " + (s.rx_errors + s.tx_errors)));
  return tr;
}

function drawState(st) {
  document.getElementById("lab").textContent = st.lab.id + " (" + st.lab.script + ")";
  const box = document.getElementById("namespaces");
  const parts = [];
  for (const ns of st.namespaces) {
    const sec = el("section", {"data-ns": ns.name}, el("h3", {}, ns.name));
    if (ns.error) sec.append(el("p", {className: "error"}, ns.error));
    const t = el("table", {}, row(["link", "kind", "state", "addresses", "master / peer", "mtu",
      "rx pkts", "tx pkts", "rx bytes", "tx bytes", "drops / errors"], "th"));
    for (const l of ns.links) t.append(linkRow(ns.name, l));
    sec.append(t);
    parts.push(sec);
  }
  box.replaceChildren(...parts);
}

function setStatus(text, cls) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = "status " + cls;
}

async function poll() {
  try {
    const r = await fetch("api/state", {cache: "no-store"});
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    const st = await r.json();
    drawState(st);
    setStatus("live", "live");
    document.getElementById("updated").textContent = "updated " + new Date(st.time).toLocaleTimeString();
  } catch (e) {
    setStatus("lab ended (or not reachable): " + e.message, "ended");
  }
  setTimeout(poll, pollMs);
}

function drawMatrix(m) {
  const box = document.getElementById("matrix");
  const status = document.getElementById("matrix-status");
  if (!m.probed) {
    box.replaceChildren();
    status.textContent = "not probed yet";
    return;
  }
  status.textContent = "probed " + new Date(m.time).toLocaleTimeString() +
    (m.skipped && m.skipped.length ? "; no address: " + m.skipped.join(", ") : "");
  const t = el("table", {}, row(["from \\ to", ...m.namespaces.map(n => n.name)], "th"));
  m.namespaces.forEach((src, i) => {
    const tr = el("tr", {}, el("th", {title: src.addr}, src.name));
    m.namespaces.forEach((dst, j) => {
      const c = m.cells[i][j];
      if (!c) {
        tr.append(el("td", {className: "cell self"}, "–"));
        return;
      }
      tr.append(el("td", {className: "cell " + (c.reply ? "reply" : "none"),
        title: src.name + " → " + dst.name + " (" + dst.addr + "): " + c.detail,
        "data-pair": src.name + ">" + dst.name, "data-reply": String(c.reply)},
        c.cut ? "?" : c.reply ? "✓" : "✗"));
    });
    t.append(tr);
  });
  box.replaceChildren(t);
}

async function reprobe() {
  const b = document.getElementById("reprobe");
  b.disabled = true;
  document.getElementById("matrix-status").textContent = "probing…";
  try {
    const r = await fetch("api/matrix", {method: "POST"});
    if (!r.ok) throw new Error(r.status + " " + r.statusText);
    drawMatrix(await r.json());
  } catch (e) {
    document.getElementById("matrix-status").textContent = "probe failed: " + e.message;
  } finally {
    b.disabled = false;
  }
}

async function start() {
  document.getElementById("reprobe").addEventListener("click", reprobe);
  poll();
  const r = await fetch("api/matrix", {cache: "no-store"});
  const m = await r.json();
  if (m.probed) drawMatrix(m);
  else reprobe();
}

start();
