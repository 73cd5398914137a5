// medialib subtitle editor: one track of one lecture, its source beside it, the video,
// a waveform, live checks, autosave, lock, versions and review actions. Plain JS, no
// build step; settings come from the JSON block #editor-config that editor.html writes
// (the page's Content-Security-Policy allows no inline script).
//
// Model: `cues` is an array of immutable cue objects (the API's cue dicts). Every edit is
// a command made of splices {index, removed, added}; undo applies them backwards. The
// DOM holds one row per cue, built once with a DocumentFragment; an edit touches only the
// rows it spliced (and their neighbours' checks, which depend on gaps).
(function () {
  "use strict";

  var cfg = JSON.parse(document.getElementById("editor-config").textContent);
  var STR = cfg.strings || {};
  var LECTURE = "/lectures/" + encodeURIComponent(cfg.lecture_id) + "/" + encodeURIComponent(cfg.lang);
  var API = (cfg.api_base || "/api") + LECTURE;
  var LOCAL_KEY = "medialib.draft:" + cfg.lecture_id + ":" + cfg.lang + ":" + (cfg.user || "");
  var DRAFT_DELAY_MS = 1000;
  var LOCAL_DELAY_MS = 300;
  var HEARTBEAT_MS = 20000;
  var RETRY_MS = 5000;
  var RISKY = 0.5; // a cue at or above this risk is "risky"
  var COALESCE_MS = 1500; // typing in one cue within this pause is one undo step
  var LIST_LIMIT = 300;

  var DEFAULT_RULES = {
    max_line_chars: 42, max_lines: 2, max_cps: 20, min_duration_ms: 830,
    max_duration_ms: 7000, min_gap_ms: 80,
  };

  function t(key, vars) {
    var text = Object.prototype.hasOwnProperty.call(STR, key) ? STR[key] : key;
    if (!vars) return text;
    return text.replace(/\{(\w+)\}/g, function (m, name) {
      return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
    });
  }

  function $(id) { return document.getElementById(id); }

  // ---- state -----------------------------------------------------------------------

  var cues = [];
  var rows = []; // rows[i] is the DOM row of cues[i]
  var source = [];
  var rules = DEFAULT_RULES;
  var info = null; // the GET response
  var baseVersion = null;
  var readOnly = false;
  var focused = -1; // index of the cue being worked on
  var playing = -1; // index of the cue under the playhead
  var undoStack = [];
  var redoStack = [];
  var localIssues = []; // localIssues[i]: {cps, longest, issues[]} for cues[i]
  var serverIssues = new Map(); // cue id -> [Issue] from POST qc (glossary, spelling, ...)
  var draftPending = false; // changes not yet acknowledged by PUT draft
  var versionDirty = false; // changes since the version in baseVersion
  var unauthorized = false;
  var riskCursor = -1;
  var draftTimer = 0;
  var localTimer = 0;
  var listTimer = 0;
  var retryTimer = 0;
  var heartbeat = 0;
  var lockToken = ""; // which take of the lock is this page's (POST lock answers it)
  var conflict = null; // the 409 body while the conflict view is open
  var comments = []; // the track's comments (the API's dicts), oldest first
  var openByCue = new Map(); // cue id -> how many open comments it has (the rows' markers)
  var hls = null;
  var wave = null;

  var video = $("ed-video");
  var rowsEl = $("ed-rows");
  var template = $("ed-row-template").content.firstElementChild;

  // Tests, the benchmark and curious users reach the editor here.
  var api = {
    ready: false,
    errors: [],
    cues: function () { return cues.slice(); },
    issues: function (i) { return localIssues[i]; },
    comments: function () { return comments.slice(); },
    state: function () {
      return {
        baseVersion: baseVersion, readOnly: readOnly, draftPending: draftPending,
        versionDirty: versionDirty, unauthorized: unauthorized, focused: focused,
        state: info && info.state, undo: undoStack.length, redo: redoStack.length,
        conflict: !!conflict,
      };
    },
  };
  window.medialibEditor = api;

  // ---- messages --------------------------------------------------------------------

  function status(text) {
    $("ed-status").textContent = text;
  }

  function error(text) {
    $("ed-error").textContent = text;
    if (text) api.errors.push(text);
  }

  function notice(text) {
    var el = $("ed-notice");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function clock(date) {
    return (date || new Date()).toLocaleTimeString(cfg.page_lang || undefined);
  }

  // ---- times -----------------------------------------------------------------------

  function pad(n, width) {
    var s = String(n);
    while (s.length < width) s = "0" + s;
    return s;
  }

  function formatTime(ms) {
    var sign = ms < 0 ? "-" : "";
    ms = Math.abs(Math.round(ms));
    var h = Math.floor(ms / 3600000);
    var m = Math.floor(ms / 60000) % 60;
    var s = Math.floor(ms / 1000) % 60;
    return sign + h + ":" + pad(m, 2) + ":" + pad(s, 2) + "." + pad(ms % 1000, 3);
  }

  // "1:02:03.5", "62:03,500", "3.25" (seconds) -> ms; null when it is not a time.
  function parseTime(text) {
    var m = /^\s*(?:(\d+):)?(?:(\d+):)?(\d+)(?:[.,](\d{1,3}))?\s*$/.exec(text);
    if (!m) return null;
    var parts = [m[1], m[2], m[3]].filter(function (p) { return p !== undefined; }).map(Number);
    var seconds = 0;
    parts.forEach(function (p) { seconds = seconds * 60 + p; });
    var frac = m[4] ? Number((m[4] + "00").slice(0, 3)) : 0;
    return seconds * 1000 + frac;
  }

  function playheadMs() {
    return Math.round((video.currentTime || 0) * 1000);
  }

  // ---- checks (the rules JSON from the server; formulas documented on the page) -----

  function charCount(text) {
    // Code points, as Python's len() counts them; line breaks are not characters.
    var n = 0;
    for (var ch of text) if (ch !== "\n") n++;
    return n;
  }

  function lineLength(line) {
    var n = 0;
    for (var ch of line) n++; // eslint-disable-line no-unused-vars
    return n;
  }

  function checkCue(i) {
    var cue = cues[i];
    var next = cues[i + 1];
    var r = rules;
    var issues = [];
    var lines = cue.text.split("\n");
    var longest = 0;
    lines.forEach(function (line) { longest = Math.max(longest, lineLength(line)); });
    var duration = cue.end_ms - cue.start_ms;
    var cps = duration > 0 ? charCount(cue.text) / (duration / 1000) : Infinity;
    function add(rule, severity, message) { issues.push({ rule: rule, severity: severity, message: message }); }
    if (cue.start_ms < 0) add("negative", "block", t("rule_negative"));
    if (duration <= 0) add("inverted", "block", t("rule_inverted"));
    if (!cue.text.trim()) add("empty", "warn", t("rule_empty"));
    if (longest > r.max_line_chars) add("cpl", "warn", t("rule_cpl", { value: longest, limit: r.max_line_chars }));
    if (lines.length > r.max_lines) add("lines", "warn", t("rule_lines", { value: lines.length, limit: r.max_lines }));
    if (duration > 0 && cps > r.max_cps) add("cps", "warn", t("rule_cps", { value: cps.toFixed(1), limit: r.max_cps }));
    if (duration > 0 && duration < r.min_duration_ms) {
      add("duration", "warn", t("rule_duration_short", { value: (duration / 1000).toFixed(2), limit: r.min_duration_ms / 1000 }));
    } else if (duration > r.max_duration_ms) {
      add("duration", "warn", t("rule_duration_long", { value: (duration / 1000).toFixed(2), limit: r.max_duration_ms / 1000 }));
    }
    if (next) {
      var gap = next.start_ms - cue.end_ms;
      if (gap < 0) add("overlap", "block", t("rule_overlap", { value: -gap }));
      else if (gap < r.min_gap_ms) add("gap", "warn", t("rule_gap", { value: gap, limit: r.min_gap_ms }));
    }
    return { cps: cps, longest: longest, issues: issues };
  }

  function allIssues(i) {
    var own = localIssues[i] ? localIssues[i].issues : [];
    var more = serverIssues.get(cues[i].id) || [];
    return own.concat(more);
  }

  // ---- source cues beside target cues (linked by time) -----------------------------

  function sourceText(cue) {
    if (!source.length) return "";
    // First source cue ending after this cue starts (binary search), then all overlapping.
    var lo = 0, hi = source.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (source[mid].end_ms <= cue.start_ms) lo = mid + 1; else hi = mid;
    }
    var parts = [];
    for (var j = lo; j < source.length && source[j].start_ms < cue.end_ms; j++) parts.push(source[j].text);
    return parts.join(" ");
  }

  // ---- rows ------------------------------------------------------------------------

  function makeRow() {
    return template.cloneNode(true);
  }

  function fillRow(row, i) {
    var cue = cues[i];
    row.dataset.id = cue.id;
    var cells = row.children;
    cells[1].firstChild.textContent = formatTime(cue.start_ms) + " – " + formatTime(cue.end_ms);
    cells[2].textContent = sourceText(cue);
    var box = cells[3].firstChild;
    if (box.value !== cue.text) box.value = cue.text;
    box.readOnly = readOnly;
    numberRow(row, i);
    paintChecks(i);
    paintMarker(row);
  }

  // The comment marker of a row: shown while its cue has open comments, named for screen readers.
  function paintMarker(row) {
    var mark = row.children[4].children[3];
    var count = openByCue.get(row.dataset.id) || 0;
    if (!count) { if (!mark.hidden) mark.hidden = true; return; }
    var label = t("comment_marker", { count: count });
    mark.hidden = false;
    mark.setAttribute("aria-label", label);
    mark.title = label;
  }

  function numberRow(row, i) {
    var n = i + 1;
    row.setAttribute("aria-rowindex", String(n + 1));
    row.children[0].textContent = String(n);
    row.children[1].firstChild.setAttribute("aria-label", t("seek_label", { n: n }));
    row.children[3].firstChild.setAttribute("aria-label", t("cue_label", { n: n }));
  }

  function paintChecks(i) {
    var row = rows[i];
    if (!row) return;
    var qc = localIssues[i];
    var issues = allIssues(i);
    var cell = row.children[4];
    var cpsEl = cell.children[0], cplEl = cell.children[1], listEl = cell.children[2];
    cpsEl.textContent = isFinite(qc.cps) ? qc.cps.toFixed(1) + " cps" : "– cps";
    cplEl.textContent = qc.longest + " cpl";
    cpsEl.classList.toggle("ed-bad", qc.cps > rules.max_cps);
    cplEl.classList.toggle("ed-bad", qc.longest > rules.max_line_chars);
    var text = issues.map(function (issue) {
      return issue.message + (issue.severity === "block" ? " (" + t("blocking") + ")" : "") +
        (issue.suggestion ? " – " + t("suggestion", { text: issue.suggestion }) : "");
    }).join("; ");
    if (listEl.textContent !== text) listEl.textContent = text;
    var blocking = issues.some(function (x) { return x.severity === "block"; });
    row.classList.toggle("ed-warn", issues.length > 0 && !blocking);
    row.classList.toggle("ed-block", blocking);
    row.classList.toggle("ed-risky", (cues[i].risk || 0) >= RISKY);
  }

  function recheck(from, to) {
    from = Math.max(0, from);
    to = Math.min(cues.length - 1, to);
    for (var i = from; i <= to; i++) {
      localIssues[i] = checkCue(i);
      paintChecks(i);
    }
  }

  function renderAll() {
    var started = performance.now();
    localIssues = new Array(cues.length);
    for (var i = 0; i < cues.length; i++) localIssues[i] = checkCue(i);
    var fragment = document.createDocumentFragment();
    rows = new Array(cues.length);
    for (var j = 0; j < cues.length; j++) {
      var row = makeRow();
      rows[j] = row;
      fillRow(row, j);
      fragment.appendChild(row);
    }
    rowsEl.textContent = "";
    rowsEl.appendChild(fragment);
    playing = -1;
    updateCount();
    scheduleLists();
    api.renderMs = performance.now() - started;
  }

  function updateCount() {
    $("ed-cue-count").textContent = "(" + cues.length + ")";
    $("ed-table").setAttribute("aria-rowcount", String(cues.length + 1));
    $("ed-shift-to").max = String(cues.length);
    $("ed-shift-from").max = String(cues.length);
  }

  // ---- commands (undo/redo) --------------------------------------------------------

  // Applies one splice to the model and the DOM; returns its inverse.
  function splice(step) {
    var removed = cues.slice(step.index, step.index + step.removed.length);
    var args = [step.index, step.removed.length].concat(step.added);
    Array.prototype.splice.apply(cues, args);
    var index = step.index;
    if (step.removed.length === step.added.length) {
      for (var k = 0; k < step.added.length; k++) fillRowData(index + k);
    } else {
      var oldRows = rows.slice(index, index + step.removed.length);
      var newRows = step.added.map(function () { return makeRow(); });
      Array.prototype.splice.apply(rows, [index, step.removed.length].concat(newRows));
      Array.prototype.splice.apply(localIssues, [index, step.removed.length].concat(newRows.map(function () { return null; })));
      var anchor = rows[index + newRows.length] || null;
      oldRows.forEach(function (row) { row.remove(); });
      var fragment = document.createDocumentFragment();
      newRows.forEach(function (row) { fragment.appendChild(row); });
      rowsEl.insertBefore(fragment, anchor);
      for (var m = 0; m < newRows.length; m++) fillRowData(index + m);
      for (var n = index + newRows.length; n < rows.length; n++) numberRow(rows[n], n);
      updateCount();
      if (playing >= index) playing = -1;
    }
    recheck(index - 1, index + step.added.length);
    return { index: index, removed: step.added, added: removed };
  }

  function fillRowData(i) {
    localIssues[i] = checkCue(i);
    fillRow(rows[i], i);
  }

  function run(steps, options) {
    if (readOnly) return false;
    var inverse = steps.map(splice).reverse();
    var command = { steps: steps, inverse: inverse, at: Date.now(), kind: (options && options.kind) || "edit", cueId: options && options.cueId };
    undoStack.push(command);
    redoStack = [];
    changed();
    return true;
  }

  function undo() {
    if (readOnly || !undoStack.length) return;
    var command = undoStack.pop();
    command.inverse.forEach(splice);
    redoStack.push(command);
    command.kind = "done"; // typing after an undo starts a new step
    focusAfter(command.inverse);
    changed();
  }

  function redo() {
    if (readOnly || !redoStack.length) return;
    var command = redoStack.pop();
    command.inverse = command.steps.map(splice).reverse();
    undoStack.push(command);
    focusAfter(command.steps);
    changed();
  }

  function focusAfter(steps) {
    var last = steps[steps.length - 1];
    if (!last) return;
    var i = Math.min(last.index, cues.length - 1);
    if (i >= 0) focusCue(i, false);
  }

  // A new cue object with the editor's marks: edited cues lose their risk and flags.
  function edited(cue, changes) {
    var out = {};
    Object.keys(cue).forEach(function (k) { out[k] = cue[k]; });
    Object.keys(changes).forEach(function (k) { out[k] = changes[k]; });
    out.risk = 0;
    out.flags = [];
    return out;
  }

  function newId() {
    var bytes = new Uint8Array(4);
    window.crypto.getRandomValues(bytes);
    return "n" + Array.prototype.map.call(bytes, function (b) { return pad(b.toString(16), 2); }).join("");
  }

  // ---- edits ---------------------------------------------------------------------

  function onInput(event) {
    var box = event.target;
    if (box.tagName !== "TEXTAREA") return;
    var row = box.closest(".ed-row");
    var i = rows.indexOf(row, Math.max(0, focused - 2));
    if (i < 0) i = rows.indexOf(row);
    if (i < 0) return;
    if (readOnly) { box.value = cues[i].text; return; }
    var cue = cues[i];
    var text = box.value.replace(/\r\n?/g, "\n");
    if (text === cue.text) return;
    var last = undoStack[undoStack.length - 1];
    var now = Date.now();
    var next = edited(cue, { text: text });
    if (last && last.kind === "type" && last.cueId === cue.id && now - last.at < COALESCE_MS) {
      // Same typing burst: extend the last step instead of stacking one per key.
      cues[i] = next;
      last.steps[0].added = [next];
      last.at = now;
      redoStack = [];
      localIssues[i] = checkCue(i);
      recheck(i - 1, i + 1);
      changed();
    } else {
      cues[i] = cue; // splice() reads the old cue back as the removed one
      box.dataset.typing = "1";
      run([{ index: i, removed: [cue], added: [next] }], { kind: "type", cueId: cue.id });
      delete box.dataset.typing;
    }
  }

  function current() {
    if (focused >= 0 && focused < cues.length) return focused;
    return cues.length ? 0 : -1;
  }

  function caretIn(i) {
    var box = rows[i] && rows[i].children[3].firstChild;
    if (box && document.activeElement === box) return box.selectionStart;
    return null;
  }

  function splitCue() {
    var i = current();
    if (i < 0) return;
    var cue = cues[i];
    var at = caretIn(i);
    var chars = Array.from(cue.text);
    if (at === null || at <= 0 || at >= cue.text.length) at = Math.floor(cue.text.length / 2);
    var head = cue.text.slice(0, at).trim();
    var tail = cue.text.slice(at).trim();
    var share = chars.length ? Array.from(cue.text.slice(0, at)).length / chars.length : 0.5;
    var cut = Math.round(cue.start_ms + (cue.end_ms - cue.start_ms) * share);
    var gap = Math.min(rules.min_gap_ms, Math.max(0, Math.floor((cue.end_ms - cue.start_ms) / 10)));
    var first = edited(cue, { text: head, end_ms: cut });
    var second = edited(cue, { id: newId(), text: tail, start_ms: Math.min(cut + gap, cue.end_ms), end_ms: cue.end_ms });
    delete second.confidence;
    run([{ index: i, removed: [cue], added: [first, second] }]);
    focusCue(i + 1, true);
  }

  function mergeCue() {
    var i = current();
    if (i < 0 || i + 1 >= cues.length) return;
    var a = cues[i], b = cues[i + 1];
    var lines = (a.text + "\n" + b.text).split("\n").length;
    var joined = lines <= rules.max_lines ? a.text + "\n" + b.text : (a.text + " " + b.text).replace(/\s*\n\s*/g, " ");
    var merged = edited(a, { text: joined.trim(), end_ms: Math.max(a.end_ms, b.end_ms) });
    run([{ index: i, removed: [a, b], added: [merged] }]);
    focusCue(i, true);
  }

  function insertCue() {
    var i = current();
    var start, end;
    if (i < 0) {
      start = playheadMs();
      end = start + 2000;
    } else {
      var prev = cues[i], next = cues[i + 1];
      start = prev.end_ms + rules.min_gap_ms;
      end = start + 2000;
      if (next) end = Math.max(start + 1, Math.min(end, next.start_ms - rules.min_gap_ms));
    }
    var cue = { id: newId(), start_ms: start, end_ms: end, text: "", risk: 0, flags: [] };
    run([{ index: i + 1, removed: [], added: [cue] }]);
    focusCue(i + 1, true);
  }

  function deleteCue() {
    var i = current();
    if (i < 0) return;
    run([{ index: i, removed: [cues[i]], added: [] }]);
    if (cues.length) focusCue(Math.min(i, cues.length - 1), true);
  }

  function setTime(which, ms, index) {
    var i = index === undefined ? current() : index;
    if (i < 0 || ms === null || isNaN(ms)) return;
    var cue = cues[i];
    var change = {};
    change[which] = Math.max(0, Math.round(ms));
    if (cue[which] === change[which]) return;
    run([{ index: i, removed: [cue], added: [edited(cue, change)] }]);
    showTimes();
  }

  function shiftRange() {
    var from = parseInt($("ed-shift-from").value, 10) - 1;
    var to = parseInt($("ed-shift-to").value, 10) - 1;
    var by = Math.round(Number($("ed-shift-ms").value));
    if (isNaN(from) || isNaN(to) || isNaN(by) || from < 0 || to >= cues.length || from > to ||
        cues[from].start_ms + by < 0) {
      error(t("shift_bad", { count: cues.length }));
      return;
    }
    if (by === 0) return;
    var old = cues.slice(from, to + 1);
    var moved = old.map(function (cue) {
      // Times only: the text is untouched, so the cue keeps its risk and provenance.
      var out = {};
      Object.keys(cue).forEach(function (k) { out[k] = cue[k]; });
      out.start_ms = cue.start_ms + by;
      out.end_ms = cue.end_ms + by;
      return out;
    });
    error("");
    run([{ index: from, removed: old, added: moved }]);
  }

  // ---- find and replace ----------------------------------------------------------

  function findSpec() {
    var needle = $("ed-find").value;
    if (!needle) return null;
    var caseSensitive = $("ed-case").checked;
    return { needle: needle, caseSensitive: caseSensitive };
  }

  function indexIn(text, spec, from) {
    if (spec.caseSensitive) return text.indexOf(spec.needle, from);
    return text.toLocaleLowerCase().indexOf(spec.needle.toLocaleLowerCase(), from);
  }

  function findNext() {
    var spec = findSpec();
    if (!spec || !cues.length) return false;
    var start = Math.max(0, current());
    var box = rows[start] && rows[start].children[3].firstChild;
    var offset = box && document.activeElement === box ? box.selectionEnd : 0;
    if (focused < 0) offset = 0;
    for (var k = 0; k <= cues.length; k++) {
      var i = (start + k) % cues.length;
      var at = indexIn(cues[i].text, spec, k === 0 ? offset : 0);
      if (at >= 0) {
        focusCue(i, false);
        var target = rows[i].children[3].firstChild;
        target.focus({ preventScroll: true });
        target.setSelectionRange(at, at + spec.needle.length);
        status("");
        return true;
      }
    }
    status(t("find_none", { text: spec.needle }));
    return false;
  }

  function replaceOne() {
    var spec = findSpec();
    if (!spec) return;
    var i = current();
    var box = i >= 0 && rows[i].children[3].firstChild;
    if (box && box.selectionStart !== box.selectionEnd) {
      var picked = cues[i].text.slice(box.selectionStart, box.selectionEnd);
      var same = spec.caseSensitive ? picked === spec.needle : picked.toLocaleLowerCase() === spec.needle.toLocaleLowerCase();
      if (same) {
        var cue = cues[i];
        var at = box.selectionStart;
        var replacement = $("ed-replace").value;
        var text = cue.text.slice(0, at) + replacement + cue.text.slice(box.selectionEnd);
        run([{ index: i, removed: [cue], added: [edited(cue, { text: text })] }]);
        box.focus({ preventScroll: true });
        box.setSelectionRange(at + replacement.length, at + replacement.length);
      }
    }
    findNext();
  }

  function replaceAll() {
    var spec = findSpec();
    if (!spec) return;
    var replacement = $("ed-replace").value;
    var flags = spec.caseSensitive ? "g" : "gi";
    var pattern = new RegExp(spec.needle.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), flags + "u");
    var steps = [];
    var count = 0;
    cues.forEach(function (cue, i) {
      if (indexIn(cue.text, spec, 0) < 0) return;
      var text = cue.text.replace(pattern, function () { count++; return replacement; });
      steps.push({ index: i, removed: [cue], added: [edited(cue, { text: text })] });
    });
    if (steps.length) run(steps);
    status(t("replaced_count", { count: count }));
  }

  // ---- focus, playhead, highlight ------------------------------------------------

  function focusCue(i, focusText, scroll) {
    if (i < 0 || i >= cues.length) return;
    if (focused >= 0 && rows[focused]) rows[focused].classList.remove("ed-focused");
    focused = i;
    rows[i].classList.add("ed-focused");
    if (scroll !== false) rows[i].scrollIntoView({ block: "nearest" });
    if (focusText !== false) rows[i].children[3].firstChild.focus({ preventScroll: true });
    showTimes();
    showCommentCue();
  }

  function showTimes() {
    var i = current();
    var cue = cues[i];
    var start = $("ed-start"), end = $("ed-end");
    if (document.activeElement !== start) start.value = cue ? formatTime(cue.start_ms) : "";
    if (document.activeElement !== end) end.value = cue ? formatTime(cue.end_ms) : "";
  }

  function seekTo(i) {
    if (i < 0 || i >= cues.length) return;
    video.currentTime = cues[i].start_ms / 1000;
  }

  function moveCue(delta) {
    var i = current();
    var next = Math.max(0, Math.min(cues.length - 1, (focused < 0 ? -1 : i) + delta));
    focusCue(next, true);
    seekTo(next);
  }

  function cueAt(ms) {
    var lo = 0, hi = cues.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (cues[mid].end_ms <= ms) lo = mid + 1; else hi = mid;
    }
    return lo < cues.length && cues[lo].start_ms <= ms ? lo : -1;
  }

  function highlight() {
    var i = cueAt(playheadMs());
    if (i === playing) return;
    if (playing >= 0 && rows[playing]) {
      rows[playing].classList.remove("ed-playing");
      rows[playing].removeAttribute("aria-current");
    }
    playing = i;
    if (i >= 0) {
      rows[i].classList.add("ed-playing");
      rows[i].setAttribute("aria-current", "true");
      if (!video.paused && !rowsEl.contains(document.activeElement)) rows[i].scrollIntoView({ block: "nearest" });
    }
  }

  function ranked() {
    var list = [];
    for (var i = 0; i < cues.length; i++) if ((cues[i].risk || 0) >= RISKY) list.push(i);
    list.sort(function (a, b) { return (cues[b].risk - cues[a].risk) || (a - b); });
    return list;
  }

  function nextRisky() {
    var list = ranked();
    if (!list.length) { status(t("risk_none")); return; }
    // Walk the ranking: the next one after the cue last visited this way.
    var pos = riskCursor >= 0 && cues[riskCursor] ? list.indexOf(riskCursor) : -1;
    var i = list[(pos + 1) % list.length];
    riskCursor = i;
    focusCue(i, true);
    seekTo(i);
  }

  // ---- lists (QC and risk), rebuilt after a pause --------------------------------

  function scheduleLists() {
    clearTimeout(listTimer);
    listTimer = setTimeout(function () { renderLists(); if (comments.length) renderComments(); showCommentCue(); }, 400);
  }

  function listItem(i, text, extraClass) {
    var li = document.createElement("li");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "ed-link" + (extraClass ? " " + extraClass : "");
    button.dataset.index = String(i);
    button.textContent = "#" + (i + 1) + " " + formatTime(cues[i].start_ms) + ": " + text;
    li.appendChild(button);
    return li;
  }

  var listSignature = "";

  function renderLists() {
    // Typing in a cue rarely changes either list: skip the DOM work when nothing moved.
    var parts = [];
    for (var s = 0; s < cues.length; s++) {
      var found = allIssues(s);
      if (found.length) parts.push(s + ":" + found.map(function (x) { return x.message; }).join("|"));
      if ((cues[s].risk || 0) >= RISKY) parts.push("r" + s + ":" + cues[s].risk + (s === focused ? cues[s].text.slice(0, 60) : ""));
    }
    var signature = parts.join("\n");
    if (signature === listSignature) return;
    listSignature = signature;
    var qcList = $("ed-qc-list");
    var fragment = document.createDocumentFragment();
    var shown = 0, total = 0, blocking = 0;
    for (var i = 0; i < cues.length; i++) {
      var issues = allIssues(i);
      for (var k = 0; k < issues.length; k++) {
        total++;
        if (issues[k].severity === "block") blocking++;
        if (shown < LIST_LIMIT) {
          shown++;
          var issue = issues[k];
          fragment.appendChild(listItem(i, issue.message + (issue.suggestion ? " – " + t("suggestion", { text: issue.suggestion }) : ""),
            issue.severity === "block" ? "ed-block" : "ed-warn"));
        }
      }
    }
    if (!total) {
      var none = document.createElement("li");
      none.textContent = t("qc_none");
      fragment.appendChild(none);
    } else if (total > shown) {
      var more = document.createElement("li");
      more.textContent = t("qc_more", { count: total - shown });
      fragment.appendChild(more);
    }
    qcList.textContent = "";
    qcList.appendChild(fragment);
    $("ed-qc-count").textContent = total ? "(" + total + (blocking ? ", " + t("qc_blocking_count", { count: blocking }) : "") + ")" : "";

    var riskList = $("ed-risk-list");
    var items = document.createDocumentFragment();
    var list = ranked().slice(0, LIST_LIMIT);
    list.forEach(function (j) {
      items.appendChild(listItem(j, t("risk_label", { risk: cues[j].risk.toFixed(2) }) +
        ((cues[j].flags || []).length ? " (" + cues[j].flags.join(", ") + ")" : "") + " – " + cues[j].text.slice(0, 60)));
    });
    if (!list.length) {
      var empty = document.createElement("li");
      empty.textContent = t("risk_none");
      items.appendChild(empty);
    }
    riskList.textContent = "";
    riskList.appendChild(items);
  }

  // ---- saving: localStorage at once, the server's draft after a pause -----------

  function changed() {
    draftPending = true;
    versionDirty = true;
    clearTimeout(localTimer);
    localTimer = setTimeout(saveLocal, LOCAL_DELAY_MS);
    clearTimeout(draftTimer);
    draftTimer = setTimeout(saveDraft, DRAFT_DELAY_MS);
    scheduleLists();
    showTimes();
  }

  function saveLocal() {
    try {
      window.localStorage.setItem(LOCAL_KEY, JSON.stringify({
        base_version: baseVersion, cues: cues, saved_at: new Date().toISOString(), synced: !draftPending,
      }));
    } catch (e) {
      /* private mode or full: the server's draft still keeps the text */
    }
  }

  function readLocal() {
    try {
      var raw = window.localStorage.getItem(LOCAL_KEY);
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }

  function clearLocal() {
    try { window.localStorage.removeItem(LOCAL_KEY); } catch (e) { /* nothing kept */ }
  }

  function request(method, path, body) {
    var headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = cfg.csrf_token;
    var options = { method: method, headers: headers, credentials: "same-origin" };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method === "DELETE") options.keepalive = true;
    return fetch(API + path, options).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = { error: text.slice(0, 200) }; }
        if (res.status === 401) onUnauthorized();
        return { status: res.status, ok: res.ok, body: data };
      });
    }, function () {
      return { status: 0, ok: false, body: { error: t("network_error") } };
    });
  }

  function errorText(res) {
    return (res.body && (res.body.error || res.body.detail)) || String(res.status);
  }

  var saving = false;

  function saveDraft() {
    clearTimeout(draftTimer);
    if (readOnly || !draftPending) return Promise.resolve(true);
    if (saving) { draftTimer = setTimeout(saveDraft, DRAFT_DELAY_MS); return Promise.resolve(false); }
    saving = true;
    var sent = cues;
    var stamp = undoStack.length + ":" + redoStack.length + ":" + (undoStack.length ? undoStack[undoStack.length - 1].at : 0);
    status(t("draft_saving"));
    return request("PUT", "/draft", { base_version: baseVersion, cues: sent }).then(function (res) {
      saving = false;
      if (res.ok) {
        var now = undoStack.length + ":" + redoStack.length + ":" + (undoStack.length ? undoStack[undoStack.length - 1].at : 0);
        if (cues === sent && now === stamp) draftPending = false;
        if (unauthorized || retryTimer) status(t("resynced"));
        else status(t("draft_saved", { time: clock() }));
        sessionBack();
        saveLocal();
        fetchServerChecks(sent);
        return true;
      }
      saveLocal();
      if (res.status === 401) return false;
      if (res.status === 423) { lockLost(res.body && res.body.holder); return false; }
      if (res.status === 0) { status(t("draft_local")); error(t("network_error")); scheduleRetry(); return false; }
      if (res.status === 403) { refreshToken().then(scheduleRetry); return false; }
      error(t("action_refused", { status: res.status, error: errorText(res) }));
      return false;
    });
  }

  function scheduleRetry() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () {
      retryTimer = 0;
      if (draftPending) saveDraft();
    }, RETRY_MS);
  }

  // After logging in again (in another tab) this page's CSRF token is stale: the editor
  // page itself carries a fresh one in its settings block.
  function refreshToken() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(function (res) {
      if (!res.ok || res.redirected) return false;
      return res.text().then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var block = doc.getElementById("editor-config");
        if (!block) return false;
        var fresh = JSON.parse(block.textContent);
        if (fresh.csrf_token) cfg.csrf_token = fresh.csrf_token;
        return true;
      });
    }, function () { return false; });
  }

  function onUnauthorized() {
    if (!unauthorized) {
      unauthorized = true;
      var link = $("ed-login-link");
      var base = cfg.login_url || "/login";
      link.href = base + (base.indexOf("?") < 0 ? "?" : "&") + "next=" + encodeURIComponent(window.location.pathname);
      $("ed-session").hidden = false;
      status(t("draft_local"));
    }
    scheduleRetryAfterLogin();
  }

  function scheduleRetryAfterLogin() {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () {
      retryTimer = 0;
      refreshToken().then(function (ok) {
        if (ok) { takeLock(); draftPending = true; saveDraft(); } else scheduleRetryAfterLogin();
      });
    }, RETRY_MS);
  }

  function sessionBack() {
    if (!unauthorized) return;
    unauthorized = false;
    $("ed-session").hidden = true;
    error("");
  }

  function fetchServerChecks(sent) {
    request("POST", "/qc", { cues: sent }).then(function (res) {
      if (!res.ok || !res.body || !res.body.issues) return;
      // Only rules the browser cannot check; the live ones are computed here.
      var local = { cpl: 1, lines: 1, cps: 1, duration: 1, gap: 1, overlap: 1, timing: 1, inverted: 1, negative: 1, empty: 1 };
      var fresh = new Map();
      res.body.issues.forEach(function (issue) {
        if (local[issue.rule]) return;
        if (!fresh.has(issue.cue_id)) fresh.set(issue.cue_id, []);
        fresh.get(issue.cue_id).push(issue);
      });
      var touched = new Set(Array.from(serverIssues.keys()).concat(Array.from(fresh.keys())));
      serverIssues = fresh;
      var byId = new Map();
      cues.forEach(function (cue, i) { byId.set(cue.id, i); });
      touched.forEach(function (id) { if (byId.has(id)) paintChecks(byId.get(id)); });
      scheduleLists();
    });
  }

  // ---- lock ----------------------------------------------------------------------

  function takeLock() {
    return request("POST", "/lock", {}).then(function (res) {
      if (res.ok) {
        lockToken = (res.body && res.body.token) || "";
        $("ed-lock").hidden = true;
        if (readOnly && !conflict) setReadOnly(false);
        return true;
      }
      if (res.status === 423) {
        var holder = (res.body && res.body.holder) || "?";
        if (api.ready && !readOnly) lockLost(holder);
        else {
          $("ed-lock").textContent = t("lock_held_by", { holder: holder });
          $("ed-lock").hidden = false;
          setReadOnly(true);
        }
      }
      return false;
    });
  }

  function lockLost(holder) {
    $("ed-lock").textContent = t("lock_lost", { holder: holder || "?" });
    $("ed-lock").hidden = false;
    saveLocal();
    setReadOnly(true);
  }

  function setReadOnly(value) {
    readOnly = value;
    $("ed-readonly").hidden = !value;
    document.body.classList.toggle("ed-is-readonly", value);
    for (var i = 0; i < rows.length; i++) rows[i].children[3].firstChild.readOnly = value;
    ["ed-undo", "ed-redo", "ed-split", "ed-merge", "ed-insert", "ed-delete", "ed-set-start", "ed-set-end",
      "ed-shift", "ed-replace-one", "ed-replace-all", "ed-save", "ed-send", "ed-import", "ed-start", "ed-end",
    ].forEach(function (id) { $(id).disabled = value; });
  }

  // ---- versions and actions --------------------------------------------------------

  function showVersion() {
    $("ed-version").textContent = baseVersion ? t("version_label", { n: baseVersion }) : t("version_none");
    var version = baseVersion ? "&version=" + baseVersion : "";
    $("ed-export-srt").href = API + "/export?format=srt" + version;
    $("ed-export-vtt").href = API + "/export?format=vtt" + version;
    var machine = info && info.machine_version;
    $("ed-diff-link").href = LECTURE + "/diff?a=" + (machine || 1) + "&b=" + (baseVersion || machine || 1);
  }

  function showState(state) {
    if (info) info.state = state;
    $("ed-state").textContent = t("state_" + state);
    var role = cfg.role;
    var reviewer = !role || role === "reviewer" || role === "staff";
    $("ed-send").disabled = readOnly || !(state === "machine" || state === "draft");
    $("ed-approve").disabled = !reviewer || state !== "in_review";
    $("ed-return").disabled = !reviewer || state !== "in_review";
    $("ed-publish").disabled = state !== "approved"; // any role publishes an approved track (medialib.review.workflow)
  }

  function saveVersion(base) {
    if (readOnly && !conflict) return Promise.resolve(false);
    var sent = cues;
    status(t("draft_saving"));
    return request("POST", "/versions", {
      base_version: base === undefined ? baseVersion : base, cues: sent, message: $("ed-message").value,
    }).then(function (res) {
      if (res.ok) {
        closeConflict();
        baseVersion = res.body.version;
        if (cues === sent && res.body.changed) {
          // The cues this version changed come back with their provenance (origin, editor, version,
          // risk cleared); texts are ours, and the other cues are unchanged.
          var stamped = {};
          res.body.changed.forEach(function (c) { stamped[c.id] = c; });
          cues = cues.map(function (c) { return stamped[c.id] || c; });
        }
        versionDirty = false;
        draftPending = false;
        clearLocal();
        $("ed-message").value = "";
        showVersion();
        if (info && (info.state === "machine" || info.state === "published" || info.state === "approved")) showState("draft");
        status(t("saved_version", { n: baseVersion }));
        return true;
      }
      if (res.status === 409 && res.body && res.body.latest) { openConflict(res.body); return false; }
      if (res.status === 423) lockLost(res.body && res.body.holder);
      error(t("action_refused", { status: res.status, error: errorText(res) }));
      return false;
    });
  }

  function action(name) {
    var before = versionDirty && !readOnly ? saveVersion() : Promise.resolve(true);
    return before.then(function (ok) {
      if (!ok) return false;
      var body = { base_version: baseVersion };
      var text = $("ed-comment").value.trim();
      if (text && name !== "publish") {
        body.comment = text;
        body.cue_id = selectedCueId();
      }
      return request("POST", "/actions/" + name, body).then(function (res) {
        if (res.ok) {
          showState(res.body.state);
          status(t("state_now", { state: t("state_" + res.body.state) }));
          if (res.body.comment) { $("ed-comment").value = ""; addToComments(res.body.comment); }
          error("");
          return true;
        }
        error(t("action_refused", { status: res.status, error: errorText(res) }));
        return false;
      });
    });
  }

  // ---- conflict view -------------------------------------------------------------

  function openConflict(body) {
    conflict = body;
    var latest = body.latest;
    $("ed-conflict-text").textContent = t("conflict_text", {
      n: latest.version, author: latest.author, time: latest.created_at ? clock(new Date(latest.created_at)) : "?",
    });
    $("ed-conflict-theirs").textContent = t("conflict_theirs", { n: latest.version });
    var theirs = (latest.track && latest.track.cues) || [];
    var mine = new Map(cues.map(function (c) { return [c.id, c]; }));
    var seen = new Set();
    var fragment = document.createDocumentFragment();
    function addRow(time, a, b) {
      var tr = document.createElement("tr");
      [time, a, b].forEach(function (text, k) {
        var cell = document.createElement(k === 0 ? "th" : "td");
        if (k === 0) cell.scope = "row";
        cell.textContent = text;
        tr.appendChild(cell);
      });
      fragment.appendChild(tr);
    }
    theirs.forEach(function (cue) {
      seen.add(cue.id);
      var own = mine.get(cue.id);
      if (own && own.text === cue.text && own.start_ms === cue.start_ms && own.end_ms === cue.end_ms) return;
      addRow(formatTime(cue.start_ms), cue.text, own ? own.text : "—");
    });
    cues.forEach(function (cue) { if (!seen.has(cue.id)) addRow(formatTime(cue.start_ms), "—", cue.text); });
    if (!fragment.childNodes.length) addRow("", t("conflict_same"), "");
    $("ed-conflict-body").textContent = "";
    $("ed-conflict-body").appendChild(fragment);
    var section = $("ed-conflict");
    section.hidden = false;
    section.focus();
    status(t("conflict_heading"));
  }

  function closeConflict() {
    conflict = null;
    $("ed-conflict").hidden = true;
  }

  function keepMine() {
    if (!conflict) return;
    saveVersion(conflict.latest.version);
  }

  function takeTheirs() {
    if (!conflict) return;
    var latest = conflict.latest;
    closeConflict();
    run([{ index: 0, removed: cues.slice(), added: latest.track.cues.slice() }], { kind: "theirs" });
    baseVersion = latest.version;
    versionDirty = false;
    showVersion();
    saveDraft();
  }

  // ---- import --------------------------------------------------------------------

  function importFile() {
    var file = $("ed-import-file").files[0];
    if (!file) return;
    var form = new FormData();
    form.append("file", file);
    var encoding = $("ed-import-encoding").value;
    if (encoding) form.append("encoding", encoding);
    request("POST", "/import", form).then(function (res) {
      if (!res.ok) { error(t("action_refused", { status: res.status, error: errorText(res) })); return; }
      run([{ index: 0, removed: cues.slice(), added: res.body.cues }], { kind: "import" });
      status(t("imported", { count: res.body.cues.length }));
      error("");
    });
  }

  // ---- comments ------------------------------------------------------------------

  // Anyone may comment on the selected cue at any time (read-only too: a reviewer watching a
  // track someone else is editing); a comment with Send/Approve/Return goes to the same cue.

  function selectedCueId() {
    return focused >= 0 && cues[focused] ? cues[focused].id : "";
  }

  function showCommentCue() {
    var el = $("ed-comment-cue");
    var cue = cues[focused];
    var text = focused >= 0 && cue ? t("comment_on_cue", { n: focused + 1, time: formatTime(cue.start_ms) })
      : t("comment_no_cue");
    if (el.textContent !== text) el.textContent = text;
  }

  function showComments(list) {
    comments = (list || []).slice();
    renderComments();
  }

  function addToComments(c) {
    comments = comments.filter(function (x) { return x.id !== c.id; }).concat([c]);
    comments.sort(function (a, b) { return a.id - b.id; });
    renderComments();
  }

  // The panel (open comments first, each with its cue's number and time) and the rows' markers.
  function renderComments() {
    var index = new Map();
    for (var i = 0; i < cues.length; i++) index.set(cues[i].id, i);
    var before = openByCue;
    openByCue = new Map();
    comments.forEach(function (c) {
      if (!c.resolved && c.cue_id) openByCue.set(c.cue_id, (openByCue.get(c.cue_id) || 0) + 1);
    });
    var ids = new Set(Array.from(before.keys()).concat(Array.from(openByCue.keys())));
    ids.forEach(function (id) {
      if (before.get(id) !== openByCue.get(id) && index.has(id)) paintMarker(rows[index.get(id)]);
    });
    var ordered = comments.filter(function (c) { return !c.resolved; })
      .concat(comments.filter(function (c) { return c.resolved; }));
    var fragment = document.createDocumentFragment();
    ordered.forEach(function (c) {
      var li = document.createElement("li");
      li.className = c.resolved ? "ed-comment-item ed-resolved" : "ed-comment-item";
      var where;
      if (c.cue_id && index.has(c.cue_id)) {
        var k = index.get(c.cue_id);
        where = document.createElement("button");
        where.type = "button";
        where.className = "ed-link";
        where.dataset.cue = c.cue_id;
        where.textContent = t("comment_where", { n: k + 1, time: formatTime(cues[k].start_ms) });
      } else {
        where = document.createElement("span");
        where.textContent = c.cue_id ? t("comment_cue_gone", { id: c.cue_id }) : t("comment_track");
      }
      li.appendChild(where);
      li.appendChild(document.createTextNode(" – " + (c.author || "") + ": " + (c.text || "") +
        (c.resolved ? " (" + t("comment_resolved") + ")" : "")));
      if (!c.resolved) {
        var resolve = document.createElement("button");
        resolve.type = "button";
        resolve.className = "ed-resolve";
        resolve.dataset.resolve = String(c.id);
        resolve.textContent = t("btn_resolve");
        resolve.setAttribute("aria-label", t("resolve_label", { author: c.author || "", text: (c.text || "").slice(0, 80) }));
        li.appendChild(document.createTextNode(" "));
        li.appendChild(resolve);
      }
      fragment.appendChild(li);
    });
    if (!ordered.length) {
      var none = document.createElement("li");
      none.textContent = t("comments_none");
      fragment.appendChild(none);
    }
    var ul = $("ed-comments");
    ul.textContent = "";
    ul.appendChild(fragment);
    var open = comments.length - comments.filter(function (c) { return c.resolved; }).length;
    $("ed-comments-count").textContent = comments.length ? "(" + open + "/" + comments.length + ")" : "";
  }

  function addComment() {
    var text = $("ed-comment").value.trim();
    if (!text) { error(t("comment_empty")); $("ed-comment").focus(); return Promise.resolve(false); }
    return request("POST", "/comments", { cue_id: selectedCueId(), text: text }).then(function (res) {
      if (!res.ok) { error(t("action_refused", { status: res.status, error: errorText(res) })); return false; }
      $("ed-comment").value = "";
      addToComments(res.body);
      status(t("comment_added"));
      error("");
      return true;
    });
  }

  function resolveComment(id) {
    return request("POST", "/comments/" + encodeURIComponent(id) + "/resolve", {}).then(function (res) {
      if (!res.ok) { error(t("action_refused", { status: res.status, error: errorText(res) })); return false; }
      addToComments(res.body);
      error("");
      var next = $("ed-comments").querySelector("button"); // keep the keyboard in the panel
      if (next) next.focus();
      return true;
    });
  }

  function onCommentsClick(event) {
    var resolve = event.target.closest("button[data-resolve]");
    if (resolve) { resolveComment(resolve.dataset.resolve); return; }
    var button = event.target.closest("button[data-cue]");
    if (!button) return;
    var i = -1;
    for (var k = 0; k < cues.length; k++) if (cues[k].id === button.dataset.cue) { i = k; break; }
    if (i < 0) return;
    focusCue(i, true);
    seekTo(i);
  }

  // ---- media ---------------------------------------------------------------------

  function startVideo(url) {
    if (!url) return;
    if (window.Hls && window.Hls.isSupported()) {
      hls = new window.Hls({ capLevelToPlayerSize: true });
      api.hls = hls;
      hls.on(window.Hls.Events.AUDIO_TRACKS_UPDATED, function (e, data) { showAudio(data.audioTracks); });
      hls.on(window.Hls.Events.ERROR, function (e, data) {
        if (data.fatal) api.errors.push("hls: " + data.type + " " + data.details);
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;
    }
  }

  function showAudio(tracks) {
    var select = $("ed-audio");
    select.textContent = "";
    tracks.forEach(function (track, k) {
      var option = document.createElement("option");
      option.value = String(k);
      option.textContent = track.name || track.lang || String(k + 1);
      if (track.lang) option.lang = track.lang;
      select.appendChild(option);
    });
    select.value = String(hls.audioTrack);
    $("ed-audio-row").hidden = tracks.length < 2;
  }

  function startWave(url) {
    if (!url || !window.WaveSurfer) { $("ed-wave-missing").hidden = false; return; }
    fetch(url, { credentials: "same-origin" }).then(function (res) {
      if (!res.ok) throw new Error(String(res.status));
      return res.json();
    }).then(function (peaks) {
      // The pipeline's peaks and the video as media: nothing is decoded in the browser.
      wave = window.WaveSurfer.create({
        container: $("ed-wave"),
        media: video,
        peaks: [peaks.peaks],
        duration: peaks.duration_ms / 1000,
        height: 64,
        waveColor: "#5f6b7a",
        progressColor: "#0b57d0",
        cursorColor: "#a50e0e",
        normalize: true,
        dragToSeek: true,
        // Its shadow root carries a <style>; the page's CSP admits it by this nonce.
        cspNonce: cfg.csp_nonce || undefined,
      });
      api.wave = wave;
    }).catch(function () {
      $("ed-wave-missing").hidden = false;
    });
  }

  // ---- keyboard ------------------------------------------------------------------

  // Bound by KeyboardEvent.code (the key's position), so a Russian layout works too.
  var ALT_KEYS = {
    KeyK: function () { if (video.paused) video.play().catch(function () {}); else video.pause(); },
    ArrowDown: function () { moveCue(1); },
    ArrowUp: function () { moveCue(-1); },
    KeyR: nextRisky,
    KeyJ: function () { video.currentTime = Math.max(0, video.currentTime - 2); },
    KeyL: function () { video.currentTime = video.currentTime + 2; },
    BracketLeft: function () { setTime("start_ms", playheadMs()); },
    BracketRight: function () { setTime("end_ms", playheadMs()); },
    KeyS: splitCue,
    KeyM: mergeCue,
    KeyI: insertCue,
    Insert: insertCue,
    Delete: deleteCue,
    KeyF: function () { $("ed-find-panel").open = true; $("ed-find").focus(); },
    KeyC: function () { $("ed-comment").focus(); },
  };

  function onKey(event) {
    var ctrl = event.ctrlKey || event.metaKey;
    if (event.altKey && !ctrl && ALT_KEYS[event.code]) {
      event.preventDefault();
      ALT_KEYS[event.code]();
      return;
    }
    if (ctrl && !event.altKey) {
      if (event.code === "KeyZ") {
        // Our stack, not the text field's: one history for text and structure.
        event.preventDefault();
        if (event.shiftKey) redo(); else undo();
      } else if (event.code === "KeyY") {
        event.preventDefault();
        redo();
      } else if (event.code === "KeyS") {
        event.preventDefault();
        saveVersion();
      }
    }
  }

  // ---- wiring --------------------------------------------------------------------

  function wire() {
    document.addEventListener("keydown", onKey);
    rowsEl.addEventListener("input", onInput);
    rowsEl.addEventListener("focusin", function (event) {
      var row = event.target.closest(".ed-row");
      if (!row) return;
      var i = rows.indexOf(row);
      if (i >= 0 && i !== focused) focusCue(i, false, false);
    });
    rowsEl.addEventListener("click", function (event) {
      var button = event.target.closest(".ed-seek");
      if (!button) return;
      var i = rows.indexOf(button.closest(".ed-row"));
      focusCue(i, true);
      seekTo(i);
    });
    function jump(event) {
      var button = event.target.closest("button[data-index]");
      if (!button) return;
      var i = Number(button.dataset.index);
      focusCue(i, true);
      seekTo(i);
    }
    $("ed-qc-list").addEventListener("click", jump);
    $("ed-risk-list").addEventListener("click", jump);
    $("ed-comments").addEventListener("click", onCommentsClick);
    video.addEventListener("timeupdate", highlight);
    video.addEventListener("seeked", highlight);
    $("ed-audio").addEventListener("change", function () { if (hls) hls.audioTrack = Number($("ed-audio").value); });

    var buttons = {
      "ed-undo": undo, "ed-redo": redo, "ed-split": splitCue, "ed-merge": mergeCue, "ed-insert": insertCue,
      "ed-delete": deleteCue, "ed-next-risky": nextRisky, "ed-shift": shiftRange, "ed-find-next": findNext,
      "ed-replace-one": replaceOne, "ed-replace-all": replaceAll, "ed-import": importFile,
      "ed-keep-mine": keepMine, "ed-take-theirs": takeTheirs,
      "ed-set-start": function () { setTime("start_ms", playheadMs()); },
      "ed-set-end": function () { setTime("end_ms", playheadMs()); },
      "ed-save": function () { saveVersion(); },
      "ed-send": function () { action("send"); },
      "ed-approve": function () { action("approve"); },
      "ed-return": function () { action("return"); },
      "ed-comment-add": addComment,
      "ed-publish": function () { action("publish"); },
    };
    Object.keys(buttons).forEach(function (id) {
      $(id).addEventListener("click", function (event) { event.preventDefault(); buttons[id](); });
    });
    ["ed-start", "ed-end"].forEach(function (id) {
      $(id).addEventListener("change", function (event) {
        var ms = parseTime(event.target.value);
        if (ms === null) { error(t("bad_time", { value: event.target.value })); return; }
        error("");
        setTime(id === "ed-start" ? "start_ms" : "end_ms", ms);
      });
    });
    $("ed-find").addEventListener("keydown", function (event) {
      if (event.code === "Enter" || event.code === "NumpadEnter") { event.preventDefault(); findNext(); }
    });

    window.addEventListener("beforeunload", function (event) {
      if (!draftPending) return;
      saveLocal();
      event.preventDefault();
      event.returnValue = t("unsaved_warning");
      return event.returnValue;
    });
    window.addEventListener("pagehide", function () {
      // The token: a late release from this page must not free the lock the reloaded page took.
      if (!readOnly && api.ready) request("DELETE", "/lock?token=" + encodeURIComponent(lockToken));
    });
    window.addEventListener("online", function () { if (draftPending) saveDraft(); });
  }

  // ---- start ---------------------------------------------------------------------

  function start(lockOk, res) {
    if (!res.ok) {
      if (res.status !== 401) error(t("load_failed", { error: errorText(res) }));
      status("");
      var local = readLocal();
      if (!local) return;
      res = { body: { version: local.base_version, state: "draft", track: { cues: local.cues }, source: null, rules: null } };
      draftPending = true;
    }
    info = res.body;
    rules = Object.assign({}, DEFAULT_RULES, info.rules || {});
    source = (info.source && info.source.cues) || [];
    baseVersion = info.version;
    cues = ((info.track && info.track.cues) || []).slice();
    if (info.draft && info.draft.cues) {
      cues = info.draft.cues.slice();
      baseVersion = info.draft.base_version;
      versionDirty = true;
    }
    // A local copy the server never got (network loss, expired session) wins.
    var kept = readLocal();
    var serverAt = info.draft && info.draft.updated_at ? Date.parse(info.draft.updated_at) : 0;
    if (kept && !kept.synced && kept.cues && Date.parse(kept.saved_at) > serverAt && lockOk) {
      cues = kept.cues;
      baseVersion = kept.base_version;
      draftPending = true;
      versionDirty = true;
      notice(t("draft_restored"));
    }
    if (baseVersion !== info.version && info.version) {
      notice(t("draft_stale_base", { mine: baseVersion || "—", latest: info.version }));
    }
    $("ed-col-source").textContent = t("col_source", { lang: (info.source && info.source.language) || "—" });
    $("ed-col-target").textContent = t("col_target", { lang: cfg.lang });
    renderAll();
    showVersion();
    showState(info.state || "machine");
    showComments(info.comments);
    if (!lockOk) setReadOnly(true);
    status("");
    if (cues.length) focusCue(0, false, false); else showCommentCue();
    api.ready = true;
    api.readyAt = performance.now();
    document.documentElement.dataset.editorReady = "1";
    if (draftPending) saveDraft();
    // Media last: neither blocks editing.
    var lecture = info.lecture || {};
    startVideo(lecture.master_url);
    startWave(info.peaks_url);
    heartbeat = setInterval(function () { if (!readOnly && !unauthorized) takeLock(); }, HEARTBEAT_MS);
  }

  wire();
  Promise.all([takeLock(), request("GET", "")]).then(function (results) {
    start(results[0], results[1]);
  }).catch(function (e) {
    error(String(e));
    console.error(e);
  });
})();
