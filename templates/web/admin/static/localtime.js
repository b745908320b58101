// Beside a time shown in the zone it was chosen in, the reader's own local time, where the two zones
// differ. The page reads right without this script; it only adds.
(function () {
  "use strict";
  var mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  document.querySelectorAll("time[data-zone]").forEach(function (el) {
    if (!mine || el.dataset.zone === mine) return;
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    var parts = {};
    new Intl.DateTimeFormat("en-CA", {timeZone: mine, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23"}).formatToParts(when)
      .forEach(function (p) { parts[p.type] = p.value; });
    var text = parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute + " " + mine;
    var span = document.createElement("span");
    span.className = "muted local-time";
    span.textContent = " (" + el.dataset.label + ": " + text + ")";
    el.after(span);
  });
})();
