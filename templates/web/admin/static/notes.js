// Notes saved as they are typed, so pressing another button on the issue page never loses one: each
// [data-autosave] field is posted alone (with the page's CSRF token) a moment after the typing stops.
// While a save is pending or failed the field is marked, leaving the page asks first, and a form sent
// meanwhile waits for the saves. Every form post keeps the scroll position. Without this script, the
// page's own forms save the notes as before. Story actions swapped in place by htmx keep each note field
// (hx-preserve) and wait for its pending save first; a story added brings its fields, bound here too.
(function () {
  "use strict";
  var DELAY = 700;
  var words = (document.getElementById("save-words") || {dataset: {}}).dataset;
  var token = document.querySelector("input[name=csrf_token]");
  var state = new Map();  // field -> {timer, saving (a promise), sent (the value last saved)}
  var dirtyForms = new Set();

  function mark(field, kind, text) {
    var el = document.querySelector('.save-state[data-for="' + field.id + '"]');
    if (!el) { return; }
    el.className = "save-state " + kind;
    el.textContent = text || words[kind] || "";
  }

  function unsaved() {
    var pending = false;
    state.forEach(function (s, field) { if (field.isConnected && field.value !== s.sent) { pending = true; } });
    return pending || dirtyForms.size > 0;
  }

  function save(field) {
    var s = state.get(field);
    clearTimeout(s.timer);
    s.timer = null;
    if (field.value === s.sent) { return s.saving || Promise.resolve(true); }
    var value = field.value;
    var body = new URLSearchParams({csrf_token: token ? token.value : "", note: value, lang: field.lang});
    mark(field, "saving");
    s.saving = fetch(field.dataset.autosave, {method: "POST", body: body, credentials: "same-origin",
                                              headers: {Accept: "application/json"}})
      .then(function (r) {
        if (r.ok) { return true; }
        return r.json().then(function (d) { return Promise.reject(d.error); },
                             function () { return Promise.reject(null); });
      })
      .then(function () {
        s.sent = value;
        mark(field, field.value === value ? "saved" : "unsaved");
        return true;
      }, function (why) {
        mark(field, "failed", why ? words.failed + " " + why : words.failed);
        return false;
      });
    return s.saving;
  }

  function fields() {  // the fields on the page now (a dropped story's are gone)
    var out = [];
    state.forEach(function (s, field) { if (field.isConnected) { out.push(field); } });
    return out;
  }

  function pending() {
    return fields().some(function (f) { return f.value !== state.get(f).sent || state.get(f).timer; });
  }

  function saveAll() {
    return Promise.all(fields().map(save)).then(function (done) { return done.every(Boolean); });
  }

  function bind(root) {
    root.querySelectorAll("[data-autosave]").forEach(function (field) {
      if (!state.has(field)) { watch(field); }
    });
  }

  function watch(field) {
    state.set(field, {timer: null, saving: null, sent: field.value});
    field.addEventListener("input", function () {
      var s = state.get(field);
      mark(field, "unsaved");
      clearTimeout(s.timer);
      s.timer = setTimeout(function () { save(field); }, DELAY);
    });
    field.addEventListener("blur", function () { save(field); });
  }

  bind(document);
  document.addEventListener("htmx:load", function (e) { bind(e.target); });
  // a story action sent by htmx waits for the notes being saved, as a form post does below
  document.addEventListener("htmx:confirm", function (e) {
    if (!pending()) { return; }
    e.preventDefault();
    saveAll().then(function (ok) { if (ok) { e.detail.issueRequest(true); } });
  });

  // Other fields of a guarded form (a subject being written) count as unsaved until the form is sent.
  document.querySelectorAll("form[data-guard]").forEach(function (form) {
    form.addEventListener("input", function (e) {
      if (!e.target.dataset.autosave) { dirtyForms.add(form); }
    });
  });

  document.addEventListener("submit", function (e) {
    if (e.defaultPrevented) { return; }  // htmx's own request (it waits above), not a page post
    var form = e.target;
    var own = fields().filter(function (f) { return f.form === form && /\/stories$/.test(form.action); });
    if (own.length) {  // a story note's own button (or Enter in it): saved in place, no reload
      e.preventDefault();
      own.forEach(save);
      return;
    }
    if (pending() && !form.dataset.flushed) {
      e.preventDefault();
      var submitter = e.submitter;
      saveAll().then(function (ok) {
        if (!ok) { return; }  // the marks say what failed; the typed text stays on the page
        form.dataset.flushed = "yes";
        dirtyForms.delete(form);
        form.requestSubmit(submitter || undefined);
      });
      return;
    }
    dirtyForms.delete(form);
    sessionStorage.setItem("desk-scroll:" + location.pathname,
                           JSON.stringify({y: window.scrollY, at: Date.now()}));
  });

  window.addEventListener("beforeunload", function (e) {
    var leaving = unsaved();
    if (leaving) {
      e.preventDefault();
      e.returnValue = "";
    }
  });

  var key = "desk-scroll:" + location.pathname;
  var kept = null;
  try { kept = JSON.parse(sessionStorage.getItem(key)); } catch (err) { kept = null; }
  sessionStorage.removeItem(key);
  // only straight after a post of this page: a position left by a post that went elsewhere is stale
  if (kept && Date.now() - kept.at < 30000) { window.scrollTo(0, kept.y || 0); }
})();
