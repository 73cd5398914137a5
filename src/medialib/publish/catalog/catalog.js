// The catalog page: language switch, filters, paging, and search over every language's Pagefind index.
const data = JSON.parse(document.getElementById("catalog-data").textContent);
const $ = (id) => document.getElementById(id);
const fmt = (s, vars) => s.replace(/\{(\w+)\}/g, (_, k) => String(vars[k]));

// --- language: the browser's, or the learner's choice kept in localStorage
function stored() { try { return localStorage.getItem("medialib.lang"); } catch (e) { return null; } }
let lang = stored() || ((navigator.language || "en").toLowerCase().startsWith("ru") ? "ru" : "en");
if (!data.strings[lang]) lang = "en";
const t = (key) => data.strings[lang][key] || data.strings.en[key] || key;
function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = t("catalog_title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
  for (const key of ["event", "speaker", "language"]) {
    const label = $("f-" + key).parentElement;
    label.firstChild.textContent = t("catalog_filter_" + key);
  }
  render();
}
$("lang-switch").addEventListener("click", () => {
  lang = lang === "ru" ? "en" : "ru";
  try { localStorage.setItem("medialib.lang", lang); } catch (e) { /* private mode */ }
  applyLanguage();
});

// --- filters and paging over the server-rendered cards
const cards = Array.from(document.querySelectorAll("li.lecture"));
let page = 0;
function matching() {
  const ev = $("f-event").value, sp = $("f-speaker").value, lg = $("f-language").value;
  return cards.filter((c) => (!ev || c.dataset.event === ev) && (!sp || c.dataset.speaker === sp) &&
    (!lg || c.dataset.langs.split(" ").includes(lg)));
}
function render() {
  const shown = matching();
  const pages = Math.max(1, Math.ceil(shown.length / data.pageSize));
  page = Math.min(page, pages - 1);
  const visible = new Set(shown.slice(page * data.pageSize, (page + 1) * data.pageSize));
  for (const c of cards) c.hidden = !visible.has(c);
  for (const s of document.querySelectorAll("section.event")) s.hidden = !s.querySelector("li.lecture:not([hidden])");
  const nomatch = $("nomatch");
  if (nomatch) nomatch.hidden = shown.length > 0;
  $("pager").hidden = pages < 2;
  $("pageinfo").textContent = fmt(t("catalog_page_of"), {page: page + 1, pages});
  $("prev").disabled = page === 0;
  $("next").disabled = page >= pages - 1;
}
for (const key of ["event", "speaker", "language"]) $("f-" + key).addEventListener("change", () => { page = 0; render(); });
$("prev").addEventListener("click", () => { page -= 1; render(); });
$("next").addEventListener("click", () => { page += 1; render(); });

// --- search: one Pagefind index per language, hits merged by score
const base = new URL("./", location.href).pathname;
const engines = {};
async function engine(code) {
  if (!engines[code]) {
    // Resolved against the page, not this module (which lives under assets/<hash>/).
    engines[code] = import(new URL(`search/${code}/pagefind.js`, location.href).href).then(async (pf) => {
      await pf.options({language: code, baseUrl: base, excerptLength: 24});
      return pf;
    });
  }
  return engines[code];
}
function timeLabel(s) {
  s = Number(s) || 0;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
}
function safeExcerpt(excerpt) {
  // Pagefind escapes the text and adds only <mark>; rebuild it from text nodes to be sure.
  const frag = document.createDocumentFragment();
  const parts = String(excerpt).split(/(<mark>|<\/mark>)/);
  let mark = null;
  const tmp = document.createElement("textarea");
  for (const p of parts) {
    if (p === "<mark>") { mark = document.createElement("mark"); frag.append(mark); continue; }
    if (p === "</mark>") { mark = null; continue; }
    tmp.innerHTML = p;
    (mark || frag).append(tmp.value);
  }
  return frag;
}
function passageOf(url) {
  const m = /\/([a-z0-9-]+)\/(\d+)-(\d+)\.html$/.exec(String(url || ""));
  return m ? {lecture: m[1], start: Number(m[2]), end: Number(m[3])} : null;
}
let searchID = 0;
async function search(q) {
  const id = ++searchID;
  const hits = $("hits");
  hits.replaceChildren();
  if (!q.trim()) { $("search-status").textContent = ""; return; }
  $("search-status").textContent = t("search_searching");
  const found = [];
  try {
    for (const code of data.search) {
      const pf = await engine(code);
      const res = await pf.search(q);
      for (const r of res.results.slice(0, 10)) found.push({r, code});
    }
    found.sort((a, b) => b.r.score - a.r.score);
    const shown = await Promise.all(found.slice(0, 20).map(async ({r, code}) => ({d: await r.data(), code})));
    if (id !== searchID) return;
    for (const {d, code} of shown) {
      const li = document.createElement("li");
      // Pagefind's url is the passage's page, <lecture>/<start>-<end>.html (search.passage_path):
      // the landing link is built from it like Passage.url.
      const hit = passageOf(d.url);
      if (!hit) continue;
      const a = document.createElement("a");
      a.href = `lectures/${hit.lecture}/index.html#t=${hit.start},${hit.end}&lang=${encodeURIComponent(code)}`;
      const title = document.createElement("span");
      title.className = "hit-title";
      const card = cards.find((c) => c.dataset.id === hit.lecture);
      title.textContent = card ? card.querySelector(".title").textContent : hit.lecture;
      const when = document.createElement("span");
      when.className = "hit-time";
      when.textContent = timeLabel(hit.start);
      a.append(title, " ", when);
      const ex = document.createElement("p");
      ex.lang = code;
      ex.append(safeExcerpt(d.excerpt));
      li.append(a, ex);
      hits.append(li);
    }
    $("search-status").textContent = shown.length ? fmt(t("search_hits"), {count: shown.length}) : t("search_no_hits");
  } catch (e) {
    console.warn("search failed", e);
    if (id === searchID) $("search-status").textContent = t("search_unavailable");
  }
}
$("search").addEventListener("submit", (ev) => { ev.preventDefault(); search($("q").value); });
if (!data.search.length) document.querySelector("search").hidden = true;

applyLanguage();
