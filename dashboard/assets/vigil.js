// Vigil dashboard conveniences; every page works without this file.
// 1. Local time after each UTC time, and the reader's time zone named.
// 2. Filters apply as soon as a choice changes; a text box filters the events tables at once.
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var tz = "";
  try { tz = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { tz = ""; }
  var fmt;
  try {
    fmt = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short", numberingSystem: "latn" });
  } catch (e) { fmt = null; }
  document.querySelectorAll("time[datetime]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!fmt || isNaN(d)) return;
    var s = document.createElement("span");
    s.className = "local";
    s.textContent = "(" + fmt.format(d) + ")";
    t.after(s);
  });
  document.querySelectorAll(".localtz").forEach(function (s) {
    if (tz) s.textContent = (document.body.dataset.tzLabel || "") + tz;
  });
  document.querySelectorAll("form.filters select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  document.querySelectorAll("table[data-filterable]").forEach(function (table) {
    var box = document.createElement("input");
    box.type = "search";
    box.className = "quick";
    box.setAttribute("aria-label", document.body.dataset.filterLabel || "Filter");
    box.placeholder = document.body.dataset.filterLabel || "Filter";
    box.addEventListener("input", function () {
      var q = box.value.toLowerCase();
      table.querySelectorAll("tbody tr").forEach(function (tr) {
        tr.hidden = q !== "" && tr.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
    table.parentNode.insertBefore(box, table);
  });
})();
