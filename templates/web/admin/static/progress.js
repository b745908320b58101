// Live send progress: every [data-progress-src] block whose issue may still move polls its JSON and
// updates its bars and figures in place. Served from /admin/static/ (the CSP runs no inline script).
(function () {
  "use strict";
  var PERIOD = 2000;

  function set(block, name, text) {
    block.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) { el.textContent = text; });
  }

  function apply(block, data) {
    Object.keys(data.fields).forEach(function (name) { set(block, name, data.fields[name]); });
    data.bars.forEach(function (bar) {
      var el = block.querySelector('progress[data-bar="' + bar.key + '"]');
      if (el) {
        el.max = Math.max(bar.max, 1);
        el.value = bar.value;
        el.setAttribute("aria-valuenow", bar.value);
        el.setAttribute("aria-valuemax", bar.max);
        el.setAttribute("aria-valuetext", bar.fields.percent);
      }
      Object.keys(bar.fields).forEach(function (name) { set(block, bar.key + "." + name, bar.fields[name]); });
    });
    block.dataset.live = data.live ? "yes" : "no";
  }

  function poll(block) {
    fetch(block.dataset.progressSrc, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        apply(block, data);
        if (data.live) { setTimeout(function () { poll(block); }, PERIOD); }
      })
      .catch(function () { setTimeout(function () { poll(block); }, PERIOD * 5); });  // logged out, or down
  }

  // The issue page's live block: its heading, state, figures and buttons come as one HTML fragment, read
  // at one moment on the server. Each part that changed is swapped in; the buttons only when the actions
  // change (their forms carry a fresh token each time, and a pause reason may be half typed).
  function swap(block, html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-fragment-src]");
    if (!fresh) { return false; }
    fresh.querySelectorAll("[data-part]").forEach(function (part) {
      var old = block.querySelector('[data-part="' + part.dataset.part + '"]');
      if (!old) { return; }
      var same = part.dataset.key !== undefined ? old.dataset.key === part.dataset.key
                                                : old.outerHTML === part.outerHTML;
      if (!same) { old.replaceWith(document.importNode(part, true)); }
    });
    block.dataset.live = fresh.dataset.live;
    return fresh.dataset.live === "yes";
  }

  function pollFragment(block) {
    fetch(block.dataset.fragmentSrc, {credentials: "same-origin", headers: {Accept: "text/html"}})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (swap(block, html)) { setTimeout(function () { pollFragment(block); }, PERIOD); }
      })
      .catch(function () { setTimeout(function () { pollFragment(block); }, PERIOD * 5); });
  }

  document.querySelectorAll("[data-fragment-src]").forEach(function (block) {
    if (block.dataset.polled) { return; }
    block.dataset.polled = "yes";
    if (block.dataset.live === "yes") { setTimeout(function () { pollFragment(block); }, PERIOD); }
  });

  document.querySelectorAll("[data-progress-src]").forEach(function (block) {
    if (block.dataset.polled) { return; }  // the script is included once per block: poll each once
    block.dataset.polled = "yes";
    if (block.dataset.live === "yes") { setTimeout(function () { poll(block); }, PERIOD); }
  });
})();
