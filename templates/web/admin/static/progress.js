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

  document.querySelectorAll("[data-progress-src]").forEach(function (block) {
    if (block.dataset.polled) { return; }  // the script is included once per block: poll each once
    block.dataset.polled = "yes";
    if (block.dataset.live === "yes") { setTimeout(function () { poll(block); }, PERIOD); }
  });
})();
