// medialib player page: plays the bundle's master.m3u8 with hls.js where Media Source
// Extensions exist, else natively (Safari, iOS), and lets the learner pick a subtitle
// language and, when the lecture has an interpreter's channel, the audio. Plain ES2017,
// no build step. The lecture comes from the JSON block that medialib/page.py writes
// into index.html.
(function () {
  "use strict";

  var STORE_KEY = "medialib.subtitleLanguage"; // "off" or a language code
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

  function showMessage(text) {
    message.textContent = text;
    message.hidden = false;
  }

  function fail(text, detail) {
    api.errors.push(detail);
    console.error(detail);
    showMessage(text);
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

  // "#t=90" (a media-fragment style link) starts at 90 s, so a moment can be shared.
  function startTime() {
    var m = /(?:^#|&)t=(\d+(?:\.\d+)?)/.exec(window.location.hash);
    return m ? parseFloat(m[1]) : 0;
  }

  var start = startTime();
  if (start > 0) {
    video.addEventListener("loadedmetadata", function () {
      video.currentTime = Math.min(start, video.duration || start);
    }, { once: true });
  }

  var src = lecture.master;

  if (window.Hls && window.Hls.isSupported()) {
    playWithHlsJs();
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    playNatively();
  } else {
    fail(
      "This browser cannot play streaming video. Please try a current Firefox, Chrome, Edge or " +
        "Safari; the subtitles and transcript can still be downloaded below.",
      "no HLS support: neither Media Source Extensions nor native HLS"
    );
  }

  // The floor audio and, where the recording has one, the interpreter's channel
  // ("Русский (синхронный перевод)"): offered only when there is a choice. The tracks
  // become known after the page starts (hls.js: AUDIO_TRACKS_UPDATED; Safari: addtrack),
  // and may be announced again, so the options are rebuilt from scratch each time.
  // tracks: [{name, lang}] in the player's order; current: the index playing, -1 if unknown.
  function showAudioChoice(tracks, current) {
    if (!audioSelect || !audioToolbar) return;
    while (audioSelect.firstChild) audioSelect.removeChild(audioSelect.firstChild);
    tracks.forEach(function (t, i) {
      var option = document.createElement("option");
      option.value = String(i);
      option.textContent = t.name || t.lang || "Audio " + (i + 1);
      if (t.lang) option.lang = t.lang;
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
    listenForAudioChoice(function (index) { hls.audioTrack = index; });
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

  function playWithHlsJs() {
    var Hls = window.Hls;
    var config = {
      capLevelToPlayerSize: true, // a phone does not fetch the 1080p rendition
      subtitleDisplay: true,
      renderTextTracksNatively: true
    };
    // Asking for the language up front loads only that subtitle playlist.
    if (chosen !== "off") config.subtitlePreference = { lang: chosen };
    var hls = new Hls(config);
    api.hls = hls;

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
    });

    select.addEventListener("change", function () {
      chosen = select.value;
      storeLanguage(chosen);
      if (chosen === "off") {
        hls.subtitleTrack = -1;
        return;
      }
      var index = hls.subtitleTracks.findIndex(function (t) { return t.lang === chosen; });
      if (index >= 0) {
        hls.subtitleDisplay = true;
        hls.subtitleTrack = index;
      }
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
          data.type === Hls.ErrorTypes.NETWORK_ERROR
            ? "The lecture could not be loaded. Check your connection and reload the page."
            : "The lecture cannot be played in this browser. Please reload the page or try another browser.",
          detail
        );
      }
    });

    hls.loadSource(src);
    hls.attachMedia(video);
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
    });

    select.addEventListener("change", function () {
      chosen = select.value;
      storeLanguage(chosen);
      apply();
    });

    video.addEventListener("error", function () {
      var err = video.error;
      fail(
        "The lecture cannot be played. Check your connection and reload the page.",
        "native HLS error: " + (err ? err.code + " " + (err.message || "") : "unknown")
      );
    });
  }
})();
