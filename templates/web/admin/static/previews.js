// The issue page's previews: one edition at a time (tabs), one view of it (600 px, 375 px, dark at
// 375 px), its frame loaded only when its tab is first shown and sized to the mail's height, which the
// framed mail posts (preview_pages.fit). After a story change the editions are rendered anew: the open
// frame loads again, the others when next shown.
(function () {
  "use strict";
  var section = document.getElementById("previews");
  if (!section) { return; }
  var tabs = Array.prototype.slice.call(section.querySelectorAll("[role=tab]"));
  var frames = Array.prototype.slice.call(section.querySelectorAll(".mail-frame"));

  function panelOf(tab) { return document.getElementById(tab.getAttribute("aria-controls")); }

  function load(panel, again) {
    var frame = panel.querySelector(".mail-frame");
    var view = panel.querySelector(".view[aria-pressed=true]");
    frame.width = view.dataset.width;
    if (again || frame.dataset.loaded !== view.dataset.src) {
      frame.dataset.loaded = view.dataset.src;
      frame.src = view.dataset.src;
    }
  }

  function open(tab, focus) {
    tabs.forEach(function (t) {
      var on = t === tab;
      t.setAttribute("aria-selected", on ? "true" : "false");
      t.tabIndex = on ? 0 : -1;
      panelOf(t).hidden = !on;
    });
    if (focus) { tab.focus(); }
    load(panelOf(tab));
  }

  tabs.forEach(function (tab, i) {
    tab.addEventListener("click", function () { open(tab); });
    tab.addEventListener("keydown", function (e) {
      var step = {ArrowRight: 1, ArrowLeft: -1}[e.key];
      if (step) { e.preventDefault(); open(tabs[(i + step + tabs.length) % tabs.length], true); }
    });
  });

  section.querySelectorAll(".view").forEach(function (button) {
    button.addEventListener("click", function () {
      var panel = button.closest("[role=tabpanel]");
      panel.querySelectorAll(".view").forEach(function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      load(panel);
    });
  });

  window.addEventListener("message", function (e) {
    var height = e.data && e.data.mailHeight;
    if (typeof height !== "number") { return; }
    frames.forEach(function (frame) {
      if (frame.contentWindow === e.source) {
        frame.style.height = Math.max(100, Math.min(height, 40000)) + "px";
      }
    });
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "story-list") { return; }
    frames.forEach(function (frame) {
      if (frame.closest("[role=tabpanel]").hidden) { frame.dataset.loaded = ""; }
      else if (frame.dataset.loaded) { load(frame.closest("[role=tabpanel]"), true); }
    });
  });

  frames.forEach(function (frame) { frame.loading = "lazy"; });
  var first = tabs.filter(function (t) { return t.getAttribute("aria-selected") === "true"; })[0];
  if (first) { open(first); }
})();
