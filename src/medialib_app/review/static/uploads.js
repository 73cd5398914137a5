// The staff upload page: hash each file (hash-wasm sha256), ask the server to prepare it
// (content-addressed key, metadata sidecar, an upload already under way to resume), then
// Uppy's AwsS3 (6.x, signRequest mode) sends the parts straight to S3 with URLs our server
// signs one request at a time. After a network error the upload is retried when the
// browser is online again: S3Uploader resumes from ListParts, so stored parts are not sent
// again. After a reload, choosing the same file again gets the same key and upload id.
// Once stored, the server checks size and sha256 in the background ("verifying"); the
// progress poll shows the outcome (ready, or what differed: the stored copy is removed).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("uploads-config").textContent);
  const t = config.strings;
  const rows = new Map();          // uppy file id or local id -> row record
  const list = document.getElementById("up-list");
  const startButton = document.getElementById("up-start");
  let localId = 0;
  let manifest = { recordings: {} };   // details by file name, from an event manifest

  function applyManifest(row) {
    const m = manifest.recordings[row.file.name];
    if (!m) return;
    if (m.title) row.el.querySelector(".up-title").value = m.title;
    row.el.querySelector(".up-speaker").value = m.speaker || "";
    row.el.querySelector(".up-language").value = m.language || "";
    row.el.querySelector(".up-audio").value = (m.audio || []).join(", ");
  }

  async function api(path, body) {
    const r = await fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": config.csrf_token },
      body: JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
    return data;
  }

  const uppy = new Uppy.Uppy({ autoProceed: false, allowMultipleUploadBatches: true });
  uppy.use(Uppy.AwsS3, {
    shouldUseMultipart: () => true,
    getChunkSize: () => config.part_size_bytes,
    limit: 2,
    generateObjectKey: (file) => file.meta.key,
    signRequest: (request) => api("/api/uploads/sign", {
      method: request.method, key: request.key, uploadId: request.uploadId, partNumber: request.partNumber,
    }),
  });

  function setState(row, state, detail) {
    row.el.dataset.state = state;
    row.stateEl.textContent = (t["uploads_state_" + state] || state) + (detail ? ": " + detail : "");
  }

  function addFiles(files) {
    for (const file of files) {
      const el = document.getElementById("up-row").content.firstElementChild.cloneNode(true);
      const row = { id: "l" + (localId++), file, el, stateEl: el.querySelector(".up-state"),
                    progress: el.querySelector(".up-progress"), uppyId: null, key: null, tries: 0 };
      el.querySelector(".up-name").textContent = file.name + " (" + (file.size / 1e6).toFixed(1) + " MB)";
      el.querySelector(".up-title").value = file.name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim();
      el.querySelector(".up-remove").addEventListener("click", () => {
        if (row.uppyId) uppy.removeFile(row.uppyId);
        rows.delete(row.id);
        el.remove();
        startButton.disabled = rows.size === 0;
      });
      applyManifest(row);
      setState(row, "waiting");
      rows.set(row.id, row);
      list.appendChild(el);
    }
    startButton.disabled = rows.size === 0;
  }

  async function sha256Of(row) {
    const hasher = await hashwasm.createSHA256();
    const chunk = 8 << 20;
    for (let offset = 0; offset < row.file.size; offset += chunk) {
      const buf = new Uint8Array(await row.file.slice(offset, offset + chunk).arrayBuffer());
      hasher.update(buf);
      row.progress.value = Math.min(1, (offset + buf.length) / row.file.size) * 0.05;
    }
    return hasher.digest("hex");
  }

  function field(row, cls) { return row.el.querySelector(cls).value.trim(); }

  async function startRow(row) {
    if (row.uppyId || ["ready", "verifying"].includes(row.el.dataset.state)) return;
    try {
      setState(row, "hashing");
      const sha256 = await sha256Of(row);
      const plan = await api("/api/uploads/prepare", {
        name: row.file.name, size_bytes: row.file.size, sha256,
        title: field(row, ".up-title"), speaker: field(row, ".up-speaker"), language: field(row, ".up-language"),
        audio: field(row, ".up-audio").split(",").map((s) => s.trim()).filter(Boolean),
        event: document.getElementById("up-event").value.trim(),
        event_date: document.getElementById("up-event-date").value || null,
      });
      row.key = plan.key;
      if (plan.complete) return finish(row);
      row.uppyId = uppy.addFile({ name: row.file.name, type: row.file.type || "application/octet-stream",
                                  data: row.file, meta: { key: plan.key }, source: "local" });
      rows.set(row.uppyId, row);
      if (plan.upload_id) uppy.setFileState(row.uppyId, { s3Multipart: { uploadId: plan.upload_id, key: plan.key } });
      setState(row, "uploading");
    } catch (e) {
      setState(row, "failed", e.message);
    }
  }

  // After the last part: the server checks size and sha256 in the background (a multi-GB
  // file takes a while); the progress poll asks about the rows it is checking until decided.
  const verifying = new Set();
  function fill(text, values) { return text.replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m)); }

  function showUpload(row, st) {
    if (st.status === "verifying") {
      verifying.add(row);
      setState(row, "verifying");
      return;
    }
    verifying.delete(row);
    if (st.status === "ready" || st.status === "taken") {     // taken: the inbox has it already
      row.progress.value = 1;
      setState(row, "ready");
    } else if (st.status === "mismatch") {     // the stored copy is gone: Upload sends the file again
      row.progress.value = 0;
      if (row.uppyId) { uppy.removeFile(row.uppyId); rows.delete(row.uppyId); row.uppyId = null; }
      startButton.disabled = false;
      const sha = st.reason === "sha256";
      setState(row, "mismatch", fill(t[sha ? "uploads_mismatch_sha256" : "uploads_mismatch_size"], {
        arrived: sha ? st.arrived_sha256.slice(0, 12) : st.arrived_size,
        declared: sha ? st.declared_sha256.slice(0, 12) : st.declared_size }));
    }
  }

  async function finish(row) {
    setState(row, "verifying");
    try {
      showUpload(row, await api("/api/uploads/finish", { key: row.key }));
      if (verifying.has(row)) scheduleProgress(1000);
    } catch (e) {
      setState(row, "failed", e.message);
    }
  }

  uppy.on("upload-progress", (file, p) => {
    const row = rows.get(file.id);
    if (row && p.bytesTotal) row.progress.value = 0.05 + 0.95 * (p.bytesUploaded / p.bytesTotal);
  });
  uppy.on("upload-success", (file) => { const row = rows.get(file.id); if (row) finish(row); });
  uppy.on("upload-error", (file, error) => {
    const row = rows.get(file.id);
    if (!row) return;
    if (!navigator.onLine) { setState(row, "offline"); return; }   // retried on "online"
    row.tries += 1;
    if (row.tries > 8) { setState(row, "failed", error && error.message); return; }
    setState(row, "retrying");
    setTimeout(() => uppy.retryUpload(file.id), Math.min(30000, 1000 * 2 ** row.tries));
  });
  window.addEventListener("online", () => {
    for (const row of new Set(rows.values())) {
      if (row.uppyId && row.el.dataset.state === "offline") { setState(row, "uploading"); uppy.retryUpload(row.uppyId); }
    }
  });

  startButton.addEventListener("click", async () => {
    startButton.disabled = true;
    const pending = [...new Set(rows.values())].filter((r) => !r.uppyId && r.el.dataset.state !== "ready");
    for (const row of pending) await startRow(row);     // one hash at a time: files are large
    uppy.upload();
  });

  document.getElementById("up-manifest").addEventListener("change", async (e) => {
    const status = document.getElementById("up-manifest-state");
    const file = e.target.files[0];
    if (!file) return;
    try {
      manifest = await api("/api/uploads/manifest", { text: await file.text() });
      if (manifest.event) document.getElementById("up-event").value = manifest.event;
      if (manifest.event_date) document.getElementById("up-event-date").value = manifest.event_date;
      for (const row of new Set(rows.values())) applyManifest(row);
      status.textContent = t.uploads_manifest_read + ": " + Object.keys(manifest.recordings).length;
    } catch (err) {
      status.textContent = err.message;
    }
  });
  document.getElementById("up-files").addEventListener("change", (e) => { addFiles(e.target.files); e.target.value = ""; });
  const drop = document.getElementById("up-drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("up-over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("up-over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("up-over"); addFiles(e.dataTransfer.files); });
  window.medialibUploads = { uppy, rows };   // for tests and the curious

  // --- what happens after upload: the inbox and the lecture runs in Prefect, every 5 s
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  // Stop a waiting or running lecture; run a failed, crashed or stopped one again.
  function actionCell(run) {
    const td = document.createElement("td");
    const active = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED"].includes(run.state);
    const again = ["FAILED", "CRASHED", "CANCELLED"].includes(run.state);
    if (!active && !again) return td;
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = active ? t.uploads_cancel : t.uploads_retry;
    b.setAttribute("aria-label", b.textContent + ": " + run.lecture);
    b.addEventListener("click", async () => {
      b.disabled = true;
      const stateEl = document.getElementById("up-progress-state");
      try {
        const out = await api(active ? "/api/uploads/cancel" : "/api/uploads/retry", { lecture: run.lecture });
        stateEl.textContent = t.uploads_action_done + " " + run.lecture + " " + JSON.stringify(out);
      } catch (e) {
        stateEl.textContent = run.lecture + ": " + e.message;
      }
      refreshProgress();
    });
    td.append(b);
    return td;
  }

  let progressTimer = null;
  function scheduleProgress(ms) { clearTimeout(progressTimer); progressTimer = setTimeout(refreshProgress, ms); }

  async function refreshProgress() {
    const stateEl = document.getElementById("up-progress-state");
    const asked = [...verifying];
    clearTimeout(progressTimer);
    try {
      const query = new URLSearchParams(asked.map((row) => ["key", row.key]));
      const r = await fetch("/api/uploads/progress?" + query, { credentials: "same-origin" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const data = await r.json();
      for (const row of asked) if (data.uploads[row.key]) showUpload(row, data.uploads[row.key]);
      const inboxList = document.getElementById("up-inbox");
      inboxList.replaceChildren(...(data.inbox.length ? data.inbox.map((i) => {
        const li = document.createElement("li"); li.textContent = i.name; return li;
      }) : [Object.assign(document.createElement("li"), { textContent: t.uploads_inbox_empty })]));
      const table = document.getElementById("up-runs");
      if (data.runs === null) {
        table.hidden = true;
        stateEl.textContent = t.uploads_processing_local;
      } else {
        table.hidden = false;
        table.tBodies[0].replaceChildren(...data.runs.map((run) => {
          const tr = document.createElement("tr");
          const state = cell(run.state_name + (run.message ? ": " + run.message : ""));
          state.dataset.state = run.state;
          tr.append(cell(run.lecture), state,
                    cell(run.started ? new Date(run.started).toLocaleString() : "-"), cell(String(run.seconds)),
                    actionCell(run));
          return tr;
        }));
        stateEl.textContent = t.uploads_processing_updated + " " + new Date().toLocaleTimeString();
      }
    } catch (e) {
      stateEl.textContent = t.uploads_processing_failed;
    } finally {
      scheduleProgress(verifying.size ? 1000 : 5000);    // every second while the server checks a file
    }
  }
  refreshProgress();
})();
