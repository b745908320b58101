// The issue page's story list at work (with htmx, static/htmx.min.js): each story action swaps the list
// in place. This script keeps the editor's place through a swap (the row under the pointer stays where
// it was, so a pin or a drop never moves the list under the editor), gives the focus back to the same
// button, keeps a subject or preheader being typed when the out-of-band swap brings the new defaults,
// and adds drag and drop: the order is posted as the list form #order-form (the Up and Down buttons stay
// for the keyboard). Without htmx, the form posts and the page is shown again.
(function () {
  "use strict";
  var anchor = null;  // {id, top, moved, focus} read before a request, used after its swap
  var typed = {};     // subject and preheader inputs being typed: id -> value

  function rowOf(id) { return document.querySelector('tr.story[data-article="' + id + '"]'); }

  function firstVisible() {
    var rows = document.querySelectorAll("tr.story");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].getBoundingClientRect().bottom > 0) { return rows[i]; }
    }
    return null;
  }

  function remember(form, moved) {
    var action = (form.querySelector("input[name=action]") || {}).value || "";
    var id = (form.querySelector("input[name=article_id]") || {}).value || moved;
    var row = id ? rowOf(id) : null;
    var keep = row;
    if (row && !moved && ["pin", "unpin", "remove", "pair", "unpair"].indexOf(action) >= 0) {
      // the row itself leaves (to the top, or out): its neighbour keeps the editor's place
      keep = row.nextElementSibling || row.previousElementSibling || row;
      if (action === "pair" || action === "unpair") { keep = row; }
    }
    keep = keep || firstVisible();
    anchor = keep && {
      id: keep.dataset.article,
      top: keep.getBoundingClientRect().top,
      moved: moved || (["up", "down", "pin", "unpin"].indexOf(action) >= 0 ? id : null),
      focus: document.activeElement && document.activeElement.closest("#story-list") ?
        {id: id, value: document.activeElement.value} : null,
    };
  }

  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt;
    if (form && form.closest && form.closest("#story-list")) {
      remember(form, form.id === "order-form" ? form.dataset.moved : null);
    }
  });

  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail.target;
    if (!target || !/^heads-/.test(target.id)) { return; }
    target.querySelectorAll("input").forEach(function (input) {
      if (input.value !== input.defaultValue) { typed[input.id] = input.value; }
    });
  });

  document.addEventListener("htmx:afterSwap", function (e) {
    Object.keys(typed).forEach(function (id) {
      var input = document.getElementById(id);
      if (input) { input.value = typed[id]; }
    });
    typed = {};
    if (!e.detail.target || e.detail.target.id !== "story-list" || !anchor) { return; }
    var kept = rowOf(anchor.id);
    if (kept) { window.scrollBy(0, kept.getBoundingClientRect().top - anchor.top); }
    var moved = anchor.moved && rowOf(anchor.moved);
    if (moved) {
      moved.classList.add("moved");
      setTimeout(function () { moved.classList.remove("moved"); }, 1500);
    }
    var f = anchor.focus;
    var row = f && (rowOf(f.id) || kept);
    var button = row && (row.querySelector('button[value="' + f.value + '"]') ||
                         row.querySelector("button[name=do]"));
    if (button) { button.focus({preventScroll: true}); }
    anchor = null;
  });

  // a refusal the server could not put in the list (an expired form, a lost connection): said at its top
  function failed(e) {
    var list = document.getElementById("story-list");
    if (!list || !e.detail.elt || !list.contains(e.detail.elt)) { return; }
    var words = (document.getElementById("save-words") || {dataset: {}}).dataset;
    var p = list.querySelector("p.error") || document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = words.actionFailed || "";
    list.insertBefore(p, list.firstChild);
    anchor = null;
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);

  // --- drag and drop: the handle is dragged, the row shows where it lands ---------------------------
  var dragged = null;

  function clearMarks() {
    document.querySelectorAll("tr.story.drop-before, tr.story.drop-after").forEach(function (r) {
      r.classList.remove("drop-before", "drop-after");
    });
  }

  document.addEventListener("dragstart", function (e) {
    var handle = e.target.closest && e.target.closest(".drag-handle");
    if (!handle) { return; }
    dragged = handle.closest("tr.story");
    dragged.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", dragged.dataset.article);
    e.dataTransfer.setDragImage(dragged, 20, 20);
  });

  document.addEventListener("dragover", function (e) {
    var row = dragged && e.target.closest && e.target.closest("tr.story");
    if (!row || row.parentNode !== dragged.parentNode) { return; }
    e.preventDefault();
    e.dataTransfer.dropEffect = "move";
    clearMarks();
    if (row === dragged) { return; }
    var box = row.getBoundingClientRect();
    row.classList.add(e.clientY < box.top + box.height / 2 ? "drop-before" : "drop-after");
  });

  document.addEventListener("drop", function (e) {
    var row = dragged && e.target.closest && e.target.closest("tr.story");
    if (!row || row.parentNode !== dragged.parentNode) { return; }
    e.preventDefault();
    var after = row.classList.contains("drop-after");
    clearMarks();
    if (row === dragged) { return; }
    row.parentNode.insertBefore(dragged, after ? row.nextSibling : row);
    var form = document.getElementById("order-form");
    var order = Array.prototype.map.call(document.querySelectorAll("tr.story"), function (r) {
      return r.dataset.article;
    });
    form.querySelector("input[name=order]").value = order.join(",");
    form.dataset.moved = dragged.dataset.article;
    form.requestSubmit();
  });

  document.addEventListener("dragend", function () {
    clearMarks();
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
  });
})();
