// medialib player page: plays the bundle's master.m3u8 with hls.js where Media Source
// Extensions exist, else natively (Safari, iOS), and lets the learner pick a subtitle
// language and, when the lecture has an interpreter's channel, the audio. Plain ES2017,
// no build step. The lecture comes from the JSON block that medialib/page.py writes
// into index.html.
(function () {
  "use strict";

  var STORE_KEY = "medialib.subtitleLanguage"; // "off" or a language code
  var LANG_KEY = "medialib.lang"; // the page's own language, shared with the catalog
  var PREFS_KEY = "medialib.prefs"; // {speed, captionSize, captionColors, dual}
  var MAX_NETWORK_RESTARTS = 3;

  var lecture = JSON.parse(document.getElementById("lecture").textContent);
  var video = document.getElementById("video");
  var select = document.getElementById("subtitle-select");
  var message = document.getElementById("player-message");
  var audioToolbar = document.getElementById("audio-toolbar");
  var audioSelect = document.getElementById("audio-select");

  // Tests (and curious learners in the console) reach the player here.
  var api = { hls: null, video: video, errors: [] };
  window.medialibPlayer = api;

  // ---- the page's own words: strings.toml's player_ keys, English and Russian -----------
  // The page arrives rendered in one language; this follows the learner's choice (kept
  // under the catalog's key, so a choice made there carries over), else the browser's.
  var table = lecture.strings || { en: {} }; // a page rendered without them shows the keys
  var uiLang = (function () {
    var stored = null;
    try { stored = window.localStorage.getItem(LANG_KEY); } catch (e) { stored = null; }
    var guess = stored || ((navigator.language || "en").toLowerCase().indexOf("ru") === 0 ? "ru" : "en");
    return table[guess] ? guess : "en";
  })();
  var relabel = []; // functions that redraw texts made by script, run on a language switch

  function tr(key, vars) {
    var text = (table[uiLang] && table[uiLang][key]) || table.en[key] || key;
    return text.replace(/\{(\w+)\}/g, function (_, k) { return vars && k in vars ? String(vars[k]) : ""; });
  }

  function applyLanguage() {
    document.documentElement.lang = uiLang;
    var i, els = document.querySelectorAll("[data-i18n]");
    for (i = 0; i < els.length; i++) els[i].textContent = tr(els[i].getAttribute("data-i18n"));
    els = document.querySelectorAll("[data-i18n-aria]");
    for (i = 0; i < els.length; i++) els[i].setAttribute("aria-label", tr(els[i].getAttribute("data-i18n-aria")));
    var sw = document.getElementById("lang-switch");
    if (sw) sw.lang = uiLang === "ru" ? "en" : "ru"; // it names the other language in that language
    video.setAttribute("aria-label", tr(lecture.audio_only ? "player_audio_of" : "player_video_of", { title: lecture.title }));
    relabel.forEach(function (redraw) { redraw(); });
  }

  var langSwitch = document.getElementById("lang-switch");
  if (langSwitch) {
    langSwitch.addEventListener("click", function () {
      uiLang = uiLang === "ru" ? "en" : "ru";
      try { window.localStorage.setItem(LANG_KEY, uiLang); } catch (e) { /* this page view only */ }
      applyLanguage();
    });
  }
  api.language = function () { return uiLang; };

  var messageKey = null;
  relabel.push(function () { if (messageKey) message.textContent = tr(messageKey); });

  function showMessage(key) {
    messageKey = key;
    message.textContent = tr(key);
    message.hidden = false;
  }

  // key: the learner's message in strings.toml; detail: the developer's, for the console.
  function fail(key, detail) {
    api.errors.push(detail);
    console.error(detail);
    showMessage(key);
  }

  // localStorage throws in some private modes and on file:// pages; the choice is
  // then only kept for this page view.
  function storedLanguage() {
    try {
      return window.localStorage.getItem(STORE_KEY);
    } catch (e) {
      return null;
    }
  }

  function storeLanguage(value) {
    try {
      window.localStorage.setItem(STORE_KEY, value);
    } catch (e) {
      /* not remembered; nothing else to do */
    }
  }

  function offered(language) {
    return lecture.subtitles.some(function (s) { return s.language === language; });
  }

  // The learner's last choice wins if this lecture offers it, then the lecture's default.
  function initialLanguage() {
    var stored = storedLanguage();
    if (stored === "off" || (stored && offered(stored))) return stored;
    var preset = lecture.subtitles.filter(function (s) { return s.default; })[0];
    return preset ? preset.language : "off";
  }

  var chosen = initialLanguage();
  select.value = chosen;

  // "#t=90", "#t=1:30" or "#t=1m30s" (a media-fragment style link) starts there, so a
  // moment can be shared. A time beyond the end is clamped to just before the end.
  // A search hit adds the passage's end and language: "#t=70,110&lang=ru".
  function hashTime() {
    var m = /(?:^#|&)t=([0-9hms:.]+)/.exec(window.location.hash);
    return m ? clockSeconds(m[1]) : null;
  }

  // The passage a search hit points at: {start, end (null when missing or not after
  // start), lang (null when absent)}; null for a plain moment link or none.
  function hashPassage() {
    var hash = window.location.hash;
    var m = /(?:^#|&)t=([0-9hms:.]+)(?:,([0-9hms:.]+))?/.exec(hash);
    var start = m ? clockSeconds(m[1]) : null;
    if (start === null) return null;
    var end = m[2] ? clockSeconds(m[2]) : null;
    var l = /(?:^#|&)lang=([A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)(?:&|$)/.exec(hash);
    if (end === null && !l) return null;
    return { start: start, end: end !== null && end > start ? end : null, lang: l ? l[1] : null };
  }

  // Seconds from "90", "1:30", "1:02:03" or "1m30s"; null for anything else.
  function clockSeconds(v) {
    var secs = NaN;
    if (/^\d+(\.\d+)?$/.test(v)) secs = parseFloat(v);
    else if (/^(\d+:){1,2}\d+(\.\d+)?$/.test(v)) {
      secs = v.split(":").reduce(function (acc, part) { return acc * 60 + parseFloat(part); }, 0);
    } else {
      var hms = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(v);
      if (hms && v) secs = (+hms[1] || 0) * 3600 + (+hms[2] || 0) * 60 + (+hms[3] || 0);
    }
    return isFinite(secs) && secs >= 0 ? secs : null;
  }
  api.hashPassage = hashPassage;

  function mediaEnd() {
    var d = video.duration;
    return isFinite(d) && d > 0 ? d : lecture.duration_s;
  }

  function seekTo(seconds) {
    var end = mediaEnd();
    var t = Math.max(0, end > 0 ? Math.min(seconds, Math.max(0, end - 0.25)) : seconds);
    if (video.readyState >= 1) {
      video.currentTime = t;
    } else {
      video.addEventListener("loadedmetadata", function () { seekTo(seconds); }, { once: true });
    }
  }
  api.seekTo = seekTo;

  var src = lecture.master;
  var transcript = transcriptPanel();
  // The learner's own choice of subtitles also moves the panel off a search hit's language.
  select.addEventListener("change", function () { transcript.follow(select.value, true); });

  var start = hashTime();
  if (start) seekTo(start);
  transcript.passage(hashPassage());
  window.addEventListener("hashchange", function () {
    var at = hashTime();
    if (at !== null) seekTo(at);
    transcript.passage(hashPassage());
  });
  learnerPreferences();
  applyLanguage(); // the learner's language, if the page was rendered in the other one

  if (window.Hls && window.Hls.isSupported()) {
    lowDataMode(playWithHlsJs);
    playWithHlsJs(0);
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    lowDataMode(function (at) {
      video.src = src;
      if (at > 0) seekTo(at);
    });
    playNatively();
  } else {
    fail("player_error_no_hls", "no HLS support: neither Media Source Extensions nor native HLS");
  }

  // The floor audio and, where the recording has one, the interpreter's channel
  // ("Русский (синхронный перевод)"): offered only when there is a choice. The tracks
  // become known after the page starts (hls.js: AUDIO_TRACKS_UPDATED; Safari: addtrack),
  // and may be announced again, so the options are rebuilt from scratch each time.
  // tracks: [{name, lang}] in the player's order; current: the index playing, -1 if unknown.
  var audioShown = null; // [tracks, current] as last shown, redrawn on a language switch
  relabel.push(function () {
    if (audioShown) showAudioChoice(audioShown[0], parseInt(audioSelect.value, 10));
  });
  function showAudioChoice(tracks, current) {
    if (!audioSelect || !audioToolbar) return;
    audioShown = [tracks, current];
    while (audioSelect.firstChild) audioSelect.removeChild(audioSelect.firstChild);
    tracks.forEach(function (track, i) {
      var option = document.createElement("option");
      option.value = String(i);
      option.textContent = track.name || track.lang || tr("player_audio_n", { n: i + 1 });
      if (track.lang) option.lang = track.lang;
      audioSelect.appendChild(option);
    });
    showAudioTrack(current);
    audioToolbar.hidden = tracks.length < 2;
  }

  function showAudioTrack(index) {
    if (audioSelect && index >= 0 && index < audioSelect.options.length) audioSelect.value = String(index);
  }

  // switchTo(index) is how the selector changes the track on either playback path.
  function listenForAudioChoice(switchTo) {
    if (!audioSelect) return;
    audioSelect.addEventListener("change", function () {
      switchTo(parseInt(audioSelect.value, 10));
    });
  }

  function offerAudioTracksHlsJs(hls) {
    var Hls = window.Hls;
    hls.on(Hls.Events.AUDIO_TRACKS_UPDATED, function (event, data) {
      showAudioChoice(
        (data.audioTracks || []).map(function (t) { return { name: t.name, lang: t.lang }; }),
        hls.audioTrack
      );
    });
    hls.on(Hls.Events.AUDIO_TRACK_SWITCHED, function (event, data) { showAudioTrack(data.id); });
  }

  // Safari and iOS list an HLS playlist's audio renditions in video.audioTracks; at most
  // one is enabled. Browsers without that list (it is behind a flag in Chromium and
  // Firefox) play the default rendition and show no selector.
  function offerAudioTracksNatively() {
    var list = video.audioTracks;
    if (!list) return;
    function current() {
      for (var i = 0; i < list.length; i++) if (list[i].enabled) return i;
      return -1;
    }
    function refresh() {
      var tracks = [];
      for (var i = 0; i < list.length; i++) {
        tracks.push({ name: list[i].label, lang: list[i].language });
      }
      showAudioChoice(tracks, current());
    }
    list.addEventListener("addtrack", refresh);
    list.addEventListener("removetrack", refresh);
    // The browser's own audio menu changes the enabled track too: mirror it.
    list.addEventListener("change", function () { showAudioTrack(current()); });
    listenForAudioChoice(function (index) {
      // Enable the new one first so there is no moment without sound.
      if (list[index]) list[index].enabled = true;
      for (var i = 0; i < list.length; i++) if (i !== index) list[i].enabled = false;
    });
    refresh();
  }

  // Bound once: they act on whichever hls.js instance plays now (low-data mode makes a new one).
  var hlsControlsBound = false;
  function bindHlsControls() {
    if (hlsControlsBound) return;
    hlsControlsBound = true;
    listenForAudioChoice(function (index) { if (api.hls) api.hls.audioTrack = index; });
    select.addEventListener("change", function () {
      var hls = api.hls;
      chosen = select.value;
      storeLanguage(chosen);
      if (!hls) return;
      if (chosen === "off") {
        hls.subtitleTrack = -1;
        return;
      }
      var index = hls.subtitleTracks.findIndex(function (t) { return t.lang === chosen; });
      if (index >= 0) {
        hls.subtitleDisplay = !(api.transcript && api.transcript.dualOn());
        hls.subtitleTrack = index;
      }
    });
  }

  // startAt: seconds to start from (a reload for low-data mode), else the start.
  function playWithHlsJs(startAt) {
    var Hls = window.Hls;
    if (api.hls) api.hls.destroy();
    var config = {
      capLevelToPlayerSize: true, // a phone does not fetch the 1080p rendition
      // Start low on a link we know nothing about: assume 500 kbit/s until segments
      // measure the real rate, and let that estimate choose the first rung (startLevel -1).
      abrEwmaDefaultEstimate: 500000,
      startLevel: -1,
      // No throw-away first segment at the lowest rung to measure the link: on 1.6 Mbit/s
      // that test plus the reload at the rung it picked cost about 1 s before the first frame.
      testBandwidth: false,
      subtitleDisplay: true,
      renderTextTracksNatively: true
    };
    if (startAt > 0) config.startPosition = startAt;
    // Asking for the language up front loads only that subtitle playlist.
    if (chosen !== "off") config.subtitlePreference = { lang: chosen };
    var hls = new Hls(config);
    api.hls = hls;
    bindHlsControls();

    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      // Without a preference hls.js would pick the DEFAULT=YES track itself.
      if (chosen === "off") hls.subtitleTrack = -1;
    });
    offerAudioTracksHlsJs(hls);

    // Keep the selector in step with hls.js, which also follows the browser's own
    // captions menu.
    hls.on(Hls.Events.SUBTITLE_TRACK_SWITCH, function (event, data) {
      var track = data.id >= 0 ? hls.subtitleTracks[data.id] : null;
      select.value = track && offered(track.lang) ? track.lang : "off";
      transcript.follow(select.value);
    });

    // hls.js retries loads itself; a fatal error means those retries ran out.
    var mediaRecovered = false;
    var networkRestarts = 0;
    hls.on(Hls.Events.FRAG_BUFFERED, function () { networkRestarts = 0; });
    hls.on(Hls.Events.ERROR, function (event, data) {
      if (!data.fatal) return;
      var detail = "hls.js fatal error: " + data.type + " " + data.details;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !mediaRecovered) {
        mediaRecovered = true; // a second media error in a row is not transient
        console.warn(detail + "; recovering");
        hls.recoverMediaError();
      } else if (
        data.type === Hls.ErrorTypes.NETWORK_ERROR &&
        networkRestarts < MAX_NETWORK_RESTARTS &&
        hls.levels.length > 0 // the master playlist itself loaded
      ) {
        networkRestarts += 1;
        console.warn(detail + "; reloading (" + networkRestarts + ")");
        window.setTimeout(function () { hls.startLoad(); }, 2000 * networkRestarts);
      } else {
        hls.destroy();
        fail(
          data.type === Hls.ErrorTypes.NETWORK_ERROR ? "player_error_network" : "player_error_media",
          detail
        );
      }
    });

    hls.loadSource(src);
    hls.attachMedia(video);
  }

  // ---- low-data mode: the bundle's audio-only playlist (audio.m3u8) ---------------------
  // hls.js ignores audio-only variants while video variants exist, so the mode loads a
  // separate master with only the audio rendition, at the current time, and remembers it.
  function lowDataMode(reload) {
    var box = document.getElementById("lowdata-toggle");
    var label = document.getElementById("lowdata-label");
    if (!box || !lecture.audio_master || lecture.audio_only) return;
    label.hidden = false;
    box.checked = !!loadPrefs().audioOnly;
    if (box.checked) src = lecture.audio_master;
    box.addEventListener("change", function () {
      savePref("audioOnly", box.checked);
      src = box.checked ? lecture.audio_master : lecture.master;
      var at = video.currentTime, playing = !video.paused && !video.ended;
      reload(at);
      if (playing) video.play().catch(function () {});
      var player = document.getElementById("player");
      player.classList.toggle("low-data", box.checked);
    });
    document.getElementById("player").classList.toggle("low-data", box.checked);
  }

  function playNatively() {
    video.src = src;
    offerAudioTracksNatively();
    var tracks = video.textTracks;

    // Safari lists the playlist's subtitle tracks as text tracks once it has read it.
    function apply() {
      for (var i = 0; i < tracks.length; i++) {
        var t = tracks[i];
        if (t.kind !== "subtitles" && t.kind !== "captions") continue;
        t.mode = chosen !== "off" && t.language === chosen ? "showing" : "disabled";
      }
    }
    tracks.addEventListener("addtrack", apply);

    // The browser's own captions menu changes modes too: mirror it in the selector.
    tracks.addEventListener("change", function () {
      var showing = "off";
      for (var i = 0; i < tracks.length; i++) {
        if (tracks[i].mode === "showing" && offered(tracks[i].language)) showing = tracks[i].language;
      }
      select.value = showing;
      transcript.follow(showing);
    });

    select.addEventListener("change", function () {
      chosen = select.value;
      storeLanguage(chosen);
      apply();
    });

    video.addEventListener("error", function () {
      var err = video.error;
      fail(
        "player_error_native",
        "native HLS error: " + (err ? err.code + " " + (err.message || "") : "unknown")
      );
    });
  }


  // ---- the learner's preferences: speed, caption style, both languages, resume -----------
  function loadPrefs() {
    try {
      var p = JSON.parse(window.localStorage.getItem(PREFS_KEY) || "{}");
      return p && typeof p === "object" ? p : {};
    } catch (e) {
      return {};
    }
  }

  function savePref(name, value) {
    var p = loadPrefs();
    p[name] = value;
    try {
      window.localStorage.setItem(PREFS_KEY, JSON.stringify(p));
    } catch (e) {
      /* kept for this page view only */
    }
  }

  function learnerPreferences() {
    var prefs = loadPrefs();
    var player = document.getElementById("player");
    var speed = document.getElementById("speed-select");
    var size = document.getElementById("caption-size");
    var colors = document.getElementById("caption-colors");
    var dual = document.getElementById("dual-toggle");

    function choose(sel, value) {
      if (!sel || value == null) return;
      for (var i = 0; i < sel.options.length; i++) if (sel.options[i].value === String(value)) sel.value = String(value);
    }

    function applyStyle() {
      // Classes, not inline styles: the CSP allows only player.css.
      [video, player].forEach(function (el) {
        el.className = el.className.replace(/\bcap-(size|colors)-\w+\b/g, "").trim();
        el.classList.add("cap-size-" + size.value, "cap-colors-" + colors.value);
      });
    }

    choose(speed, prefs.speed);
    choose(size, prefs.captionSize);
    choose(colors, prefs.captionColors);
    applyStyle();
    video.playbackRate = parseFloat(speed.value) || 1;
    video.defaultPlaybackRate = video.playbackRate;
    // hls.js and a new source reset the rate; put it back.
    video.addEventListener("loadedmetadata", function () { video.playbackRate = parseFloat(speed.value) || 1; });
    speed.addEventListener("change", function () {
      video.playbackRate = parseFloat(speed.value) || 1;
      savePref("speed", speed.value);
    });
    video.addEventListener("ratechange", function () {
      if (String(video.playbackRate) !== speed.value) choose(speed, video.playbackRate);
    });
    size.addEventListener("change", function () { applyStyle(); savePref("captionSize", size.value); });
    colors.addEventListener("change", function () { applyStyle(); savePref("captionColors", colors.value); });
    if (dual) {
      dual.checked = !!prefs.dual;
      transcript.dual(dual.checked);
      dual.addEventListener("change", function () {
        savePref("dual", dual.checked);
        transcript.dual(dual.checked);
      });
    }

    // Resume where the learner left off, unless a link names a moment.
    var resumeKey = "medialib.resume." + (lecture.title + "|" + lecture.duration_s);
    if (hashTime() === null) {
      var at = 0;
      try { at = parseFloat(window.localStorage.getItem(resumeKey)) || 0; } catch (e) { at = 0; }
      if (at > 3 && at < lecture.duration_s - 3) seekTo(at); // not the very start or end
    }
    var lastSaved = 0;
    function saveResume() {
      try { window.localStorage.setItem(resumeKey, String(Math.floor(video.currentTime))); } catch (e) { /* ignore */ }
    }
    video.addEventListener("timeupdate", function () {
      if (Math.abs(video.currentTime - lastSaved) >= 5) { lastSaved = video.currentTime; saveResume(); }
    });
    video.addEventListener("pause", saveResume);
    window.addEventListener("pagehide", saveResume);

    // Shortcuts act only while the player (the video or its overlay) has focus, so
    // typing in the transcript search or using a screen reader is never hijacked.
    player.addEventListener("keydown", function (e) {
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      var handled = true;
      switch (e.key) {
        case "k": case "K": if (video.paused) video.play().catch(function () {}); else video.pause(); break;
        case "j": case "J": seekTo(Math.max(0, video.currentTime - 10)); break;
        case "l": case "L": seekTo(video.currentTime + 10); break;
        case "c": case "C":
          select.value = select.value === "off" ? initialLanguageOn() : "off";
          select.dispatchEvent(new Event("change"));
          break;
        case ">": step(1); break;
        case "<": step(-1); break;
        default: handled = false;
      }
      if (handled) e.preventDefault();
    });
    function step(d) {
      var i = speed.selectedIndex + d;
      if (i < 0 || i >= speed.options.length) return;
      speed.selectedIndex = i;
      speed.dispatchEvent(new Event("change"));
    }
    function initialLanguageOn() {
      var preset = lecture.subtitles.filter(function (s) { return s.default; })[0] || lecture.subtitles[0];
      return preset ? preset.language : "off";
    }
  }

  // ---- transcript panel ---------------------------------------------------------------
  // The cues of the chosen subtitle language as text (the default language while
  // subtitles are off), the current one marked aria-current; a cue is a button, so a
  // click, Enter or Space seeks there. lecture.transcript names a content-hashed file, so
  // it always matches the subtitles this page was published with.
  function transcriptPanel() {
    var section = document.getElementById("transcript");
    var list = document.getElementById("transcript-cues");
    var search = document.getElementById("transcript-search");
    var followBox = document.getElementById("transcript-follow");
    var status = document.getElementById("transcript-status");
    var overlay = document.getElementById("dual-overlay");
    var dualLabel = document.getElementById("dual-label");
    var none = { follow: function () {}, dual: function () {}, passage: function () {} };
    if (!section || !list || !lecture.transcript || !window.fetch) return none;

    var tracks = [];       // [{language, name, cues: [[start_ms, end_ms, text]]}]
    var shown = null;      // the track in the list
    var buttons = [];      // one per cue of `shown`
    var starts = [];       // cue starts in seconds, for the binary search
    var current = -1;
    var wanted = null;     // the language asked for before the file arrived
    var searchTimer = 0;
    var dualOn = false;
    var other = null;      // the second language's track while both are shown
    var found = null;      // a search hit's passage {start, end, lang} (seconds), from the link
    var pinned = null;     // its language: the panel keeps it until the learner picks subtitles
    var scrollToFound = false;
    var firstFound = null;  // the button of the passage's first cue
    var matches = null;    // the in-lecture search's hit count, null when not searching

    function clock(ms) {
      var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
      var ss = ("0" + (s % 60)).slice(-2);
      return h ? h + ":" + ("0" + m).slice(-2) + ":" + ss : m + ":" + ss;
    }

    function pick(language) {
      var byLang = function (l) { return tracks.filter(function (t) { return t.language === l; })[0]; };
      if (language && language !== "off" && byLang(language)) return byLang(language);
      var preset = lecture.subtitles.filter(function (s) { return s.default; })[0];
      return (preset && byLang(preset.language)) || byLang(lecture.language) || tracks[0] || null;
    }

    function render(track) {
      shown = track;
      current = -1;
      buttons = [];
      starts = [];
      var frag = document.createDocumentFragment();
      track.cues.forEach(function (c, i) {
        var li = document.createElement("li");
        var b = document.createElement("button");
        b.type = "button";
        b.className = "cue";
        b.setAttribute("data-i", String(i));
        var time = document.createElement("span");
        time.className = "time";
        time.textContent = clock(c[0]);
        var text = document.createElement("span");
        text.className = "text";
        text.textContent = c[2];
        b.appendChild(time);
        b.appendChild(text);
        if (other) {
          var second = document.createElement("span");
          second.className = "text second";
          second.lang = other.language;
          second.textContent = textAt(other, (c[0] + c[1]) / 2);
          var lines = document.createElement("span");
          lines.className = "lines";
          text.lang = track.language;
          lines.appendChild(text);
          lines.appendChild(second);
          b.appendChild(lines);
        }
        li.appendChild(b);
        frag.appendChild(li);
        buttons.push(b);
        starts.push(c[0] / 1000);
      });
      list.textContent = "";
      list.lang = track.language;
      list.appendChild(frag);
      markFound();
      if (search.value) filter();
      update();
      // After update(): marking the cue playing now (before the link's seek lands, the
      // first one) must not scroll the list away from the passage.
      showFound();
    }

    // The found passage: the cues that start within [start, end), or with no usable end
    // the cue playing at start; its first cue says so to screen readers. A passage past
    // the end marks nothing.
    function inFound(c) {
      var a = c[0] / 1000;
      if (found.end === null) return a <= found.start && found.start < c[1] / 1000;
      return a >= found.start && a < found.end;
    }

    function markFound() {
      var first = null;
      firstFound = null;
      buttons.forEach(function (b, i) {
        var hit = !!found && inFound(shown.cues[i]);
        b.classList.toggle("passage", hit);
        var note = b.querySelector(".visually-hidden");
        if (note) b.removeChild(note);
        if (hit && !first) {
          first = b;
          note = document.createElement("span");
          note.className = "visually-hidden";
          note.setAttribute("data-i18n", "player_passage");
          note.textContent = tr("player_passage");
          b.insertBefore(note, b.firstChild);
        }
      });
      firstFound = first;
    }

    // Once per link: the list scrolls, not the page, so the video stays in view.
    function showFound() {
      if (!firstFound || !scrollToFound) return;
      scrollToFound = false;
      list.scrollTop = Math.max(0, firstFound.offsetTop - list.clientHeight / 6);
    }

    // The text of track's cue at ms (the second line of a cue, and the overlay).
    function textAt(track, ms) {
      var cues = track.cues, lo = 0, hi = cues.length - 1, found = -1;
      while (lo <= hi) {
        var mid = (lo + hi) >> 1;
        if (cues[mid][0] <= ms) { found = mid; lo = mid + 1; } else hi = mid - 1;
      }
      return found >= 0 && ms < cues[found][1] ? cues[found][2] : "";
    }

    // Both languages: the original (the lecture's language) and the translation.
    function pairFor(track) {
      var original = tracks.filter(function (t) { return t.language === lecture.language; })[0] || tracks[0];
      if (track && track !== original) return [original, track];
      return [original, tracks.filter(function (t) { return t !== original; })[0]];
    }

    var overlayText = null;
    function showOverlay() {
      if (!overlay) return;
      if (!dualOn || !other) {
        overlay.hidden = true;
        overlayText = null;
        return;
      }
      var pair = pairFor(shown), ms = video.currentTime * 1000;
      var lines = pair.map(function (t) { return textAt(t, ms); });
      var key = lines.join("\n");
      if (key === overlayText) return;
      overlayText = key;
      overlay.textContent = "";
      pair.forEach(function (t, i) {
        if (!lines[i]) return;
        var p = document.createElement("p");
        p.lang = t.language;
        p.className = i === 0 ? "original" : "translation";
        p.textContent = lines[i];
        overlay.appendChild(p);
      });
      overlay.hidden = !overlay.firstChild;
    }

    function setNativeDisplay(on) {
      if (api.hls) {
        api.hls.subtitleDisplay = on;
      } else {
        for (var i = 0; i < video.textTracks.length; i++) {
          var t = video.textTracks[i];
          if (t.mode === "showing" && !on) t.mode = "hidden";
          else if (t.mode === "hidden" && on && t.language === chosen) t.mode = "showing";
        }
      }
    }

    function applyDual() {
      if (!shown) return;
      var pair = pairFor(shown);
      other = dualOn && pair[1] ? (pair[0] === shown ? pair[1] : pair[0]) : null;
      setNativeDisplay(!other);
      render(shown);
      overlayText = null;
      showOverlay();
    }

    // The cue playing now: the last that starts at or before t, if it has not ended.
    function cueAt(t) {
      var lo = 0, hi = starts.length - 1, found = -1;
      while (lo <= hi) {
        var mid = (lo + hi) >> 1;
        if (starts[mid] <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
      }
      return found >= 0 && t < shown.cues[found][1] / 1000 ? found : -1;
    }

    function update() {
      if (!shown) return;
      showOverlay();
      var i = cueAt(video.currentTime);
      if (i === current) return;
      if (current >= 0 && buttons[current]) buttons[current].removeAttribute("aria-current");
      current = i;
      if (i < 0) return;
      buttons[i].setAttribute("aria-current", "true");
      if (followBox.checked && !list.contains(document.activeElement)) {
        // Scroll the list only, never the page; offsetTop is relative to the list.
        var b = buttons[i];
        var top = b.offsetTop - list.clientHeight / 3;
        if (b.offsetTop < list.scrollTop || b.offsetTop + b.offsetHeight > list.scrollTop + list.clientHeight) {
          list.scrollTop = Math.max(0, top);
        }
      }
    }

    function normal(text) {
      return text.toLocaleLowerCase().replace(/ё/g, "е");
    }

    function mark(el, text, q) {
      el.textContent = "";
      if (!q) { el.textContent = text; return; }
      var low = normal(text), at = 0, k;
      while ((k = low.indexOf(q, at)) >= 0) {
        el.appendChild(document.createTextNode(text.slice(at, k)));
        var m = document.createElement("mark");
        m.textContent = text.slice(k, k + q.length);
        el.appendChild(m);
        at = k + q.length;
      }
      el.appendChild(document.createTextNode(text.slice(at)));
    }

    function filter() {
      var q = normal(search.value.trim());
      var hits = 0;
      shown.cues.forEach(function (c, i) {
        var hit = !q || normal(c[2]).indexOf(q) >= 0;
        var b = buttons[i];
        b.parentNode.hidden = !hit;
        if (hit && q) hits += 1;
        var textEl = b.querySelector(".text");
        if (hit && (q || textEl.firstChild !== textEl.lastChild)) mark(textEl, c[2], q);
      });
      matches = q ? hits : null;
      showMatches();
    }

    function showMatches() {
      status.textContent = matches === null ? "" : matches === 0 ? tr("player_no_matches")
        : matches === 1 ? tr("player_one_match") : tr("player_matches", { count: matches });
    }
    relabel.push(showMatches);

    function asText() {
      var head = [lecture.title];
      if (lecture.speaker) head.push(lecture.speaker);
      return head.join("\n") + "\n\n" + shown.cues.map(function (c) {
        return "[" + clock(c[0]) + "] " + c[2];
      }).join("\n") + "\n";
    }

    list.addEventListener("click", function (e) {
      var b = e.target.closest ? e.target.closest("button.cue") : null;
      if (!b) return;
      seekTo(shown.cues[+b.getAttribute("data-i")][0] / 1000 + 0.01);
    });
    search.addEventListener("input", function () {
      window.clearTimeout(searchTimer);
      searchTimer = window.setTimeout(filter, 150);
    });
    document.getElementById("transcript-download").addEventListener("click", function () {
      var url = URL.createObjectURL(new Blob([asText()], { type: "text/plain;charset=utf-8" }));
      var a = document.createElement("a");
      a.href = url;
      a.download = "transcript-" + shown.language + ".txt";
      document.body.appendChild(a);
      a.click();
      a.remove();
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    });
    document.getElementById("transcript-print").addEventListener("click", function () { window.print(); });
    video.addEventListener("timeupdate", update);
    video.addEventListener("seeked", update);

    fetch(lecture.transcript, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (doc) {
        tracks = (doc && doc.tracks ? doc.tracks : []).filter(function (t) { return t.cues && t.cues.length; });
        if (pinned && !tracks.some(function (t) { return t.language === pinned; })) pinned = null;
        var track = pick(pinned || wanted || chosen);
        if (!track) return;
        section.hidden = false;
        if (dualLabel) dualLabel.hidden = tracks.length < 2;
        shown = track;
        applyDual();
      })
      .catch(function (e) {
        console.warn("transcript not loaded: " + e);
      });

    api.transcript = { update: update, dualOn: function () { return dualOn && !!other; }, cueAt: function (t) { return cueAt(t); } };
    return {
      // language: the subtitles now chosen; byLearner: the learner chose them (not a player event).
      follow: function (language, byLearner) {
        wanted = language;
        if (byLearner) pinned = null;
        if (!tracks.length || pinned) return;
        var track = pick(language);
        if (track && track !== shown) {
          shown = track;
          applyDual();
        }
      },
      dual: function (on) {
        dualOn = !!on;
        applyDual();
      },
      // p: hashPassage()'s record or null; marks it and shows its language if there is one.
      passage: function (p) {
        found = p;
        scrollToFound = !!p;
        if (p && p.lang) pinned = p.lang;
        if (!tracks.length) return;
        if (pinned && !tracks.some(function (t) { return t.language === pinned; })) pinned = null;
        var track = pinned ? pick(pinned) : shown;
        if (track && track !== shown) {
          shown = track;
          applyDual();
        } else if (shown) {
          markFound();
          showFound();
        }
      }
    };
  }
})();
