// Checks, in this browser, that each event of the timeline is in the ledger's latest signed
// checkpoint: the checkpoint's Ed25519 signature (a C2SP signed note) against the public key,
// and each event's RFC 9162 inclusion proof (SHA-256) from its stored bytes to the signed root.
// Nothing here takes the server's word: the server only hands over bytes and hashes.
(function () {
  "use strict";
  var summary = document.getElementById("proof-summary");
  if (!summary) return;
  var subtle = window.crypto && window.crypto.subtle;
  var enc = new TextEncoder();

  function b64(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }
  function concat(parts) {
    var size = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(size), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) return false;
    var diff = 0;
    for (var i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
    return diff === 0;
  }
  function u32(n) { var b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; }
  function u64(n) {
    var b = new Uint8Array(8), v = new DataView(b.buffer);
    v.setUint32(0, Math.floor(n / 4294967296)); v.setUint32(4, n >>> 0);
    return b;
  }
  async function sha256(bytes) { return new Uint8Array(await subtle.digest("SHA-256", bytes)); }
  function uuidBytes(text) {
    var hex = text.replace(/-/g, ""), out = new Uint8Array(16);
    for (var i = 0; i < 16; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  // The verifier key: <name>+<key id, 8 hex>+<base64(0x01 ‖ 32-byte Ed25519 key)>.
  async function readKey(text) {
    // The base64 key may hold "+" too: only the first two "+" separate the fields.
    var trimmed = text.trim(), first = trimmed.indexOf("+"), second = trimmed.indexOf("+", first + 1);
    if (first < 1 || second < 0) throw new Error("malformed public key");
    var parts = [trimmed.slice(0, first), trimmed.slice(first + 1, second), trimmed.slice(second + 1)];
    if (!/^[0-9a-fA-F]{8}$/.test(parts[1])) throw new Error("malformed public key");
    var material = b64(parts[2]);
    if (material.length !== 33 || material[0] !== 1) throw new Error("not an Ed25519 key");
    var raw = material.slice(1);
    var id = (await sha256(concat([enc.encode(parts[0] + "\n"), new Uint8Array([1]), raw]))).slice(0, 4);
    if (!equal(id, hexBytes(parts[1]))) throw new Error("key id does not match the key");
    var key = await subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]);
    return { name: parts[0], id: id, key: key };
  }
  function hexBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  // A C2SP signed note: text, a blank line, then lines "— <name> <base64(key id ‖ signature)>".
  async function openCheckpoint(note, verifier) {
    var split = note.indexOf("\n\n");
    if (split < 0) throw new Error("malformed note");
    var text = note.slice(0, split + 1);
    var lines = note.slice(split + 2).split("\n").filter(Boolean);
    var ok = false;
    for (var i = 0; i < lines.length; i++) {
      var m = /^\u2014 (\S+) (\S+)$/.exec(lines[i]);
      if (!m || m[1] !== verifier.name) continue;
      var blob = b64(m[2]);
      if (blob.length !== 68 || !equal(blob.slice(0, 4), verifier.id)) continue;
      ok = await subtle.verify({ name: "Ed25519" }, verifier.key, blob.slice(4), enc.encode(text));
      if (ok) break;
    }
    if (!ok) throw new Error("the checkpoint's signature does not verify");
    var body = text.split("\n");
    if (body[0] !== verifier.name) throw new Error("the checkpoint is of another log");
    return { size: Number(body[1]), root: b64(body[2]) };
  }

  async function node(left, right) { return sha256(concat([new Uint8Array([1]), left, right])); }

  // RFC 9162, 2.1.3.2: the root an inclusion proof leads to (null if the proof is malformed).
  async function rootFromProof(index, size, leafHash, proof) {
    if (index >= size) return null;
    var fn = index, sn = size - 1, r = leafHash;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) return null;
      if ((fn % 2 === 1) || fn === sn) {
        r = await node(proof[i], r);
        if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = await node(r, proof[i]);
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  function leaf(dossierId, event, state) {
    var topic = enc.encode(event.topic);
    return concat([new Uint8Array([1]), uuidBytes(dossierId), u64(event.version), u32(topic.length), topic, u32(state.length), state]);
  }

  function mark(row, state, text, title) {
    var cell = row.querySelector(".proof");
    row.dataset.proof = state;
    cell.textContent = text;
    if (title) cell.title = title;
  }

  async function check() {
    if (!subtle) { summary.dataset.state = "unavailable"; summary.textContent = summary.dataset.msgUnavailable; return; }
    var answers = await Promise.all([fetch(summary.dataset.bundle, { credentials: "same-origin" }), fetch(summary.dataset.key)]);
    if (!answers[0].ok || !answers[1].ok) { summary.dataset.state = "unavailable"; summary.textContent = summary.dataset.msgUnavailable; markAll("pending"); return; }
    var bundle = await answers[0].json();
    var verifier = await readKey(await answers[1].text());
    var checkpoint = await openCheckpoint(bundle.checkpoint, verifier);
    var byVersion = {};
    bundle.events.forEach(function (e) { byVersion[e.version] = e; });
    var failed = 0, verified = 0;
    var rows = document.querySelectorAll("#timeline tbody tr");
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i], event = byVersion[row.dataset.version];
      if (!event) { mark(row, "pending", "—", summary.dataset.msgPendingEvent); continue; }
      var state = b64(event.state_b64);
      var stored = JSON.parse(new TextDecoder().decode(state));
      var sameEvent = stored.event_id === row.dataset.eventId && event.topic.endsWith("." + row.dataset.type);
      var root = await rootFromProof(event.leaf_index, checkpoint.size, await sha256(concat([new Uint8Array([0]), leaf(bundle.dossier_id, event, state)])), event.inclusion_proof.map(b64));
      if (sameEvent && root && equal(root, checkpoint.root)) { verified++; mark(row, "ok", "\u2713", "leaf " + event.leaf_index + " / " + checkpoint.size); }
      else { failed++; mark(row, "failed", "\u2717"); }
    }
    summary.dataset.state = failed ? "failed" : "ok";
    summary.dataset.verified = String(verified);
    summary.dataset.treeSize = String(checkpoint.size);
    summary.textContent = failed ? summary.dataset.msgFailed : summary.dataset.msgOk + " " + checkpoint.size + ".";
  }
  function markAll(state) {
    document.querySelectorAll("#timeline tbody tr").forEach(function (row) { mark(row, state, "—"); });
  }
  check().catch(function (error) {
    summary.dataset.state = "failed";
    summary.textContent = summary.dataset.msgFailed + " (" + error.message + ")";
    document.querySelectorAll("#timeline tbody tr").forEach(function (row) { if (!row.dataset.proof) mark(row, "failed", "\u2717"); });
  });
})();
