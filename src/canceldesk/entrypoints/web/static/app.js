/* canceldesk pages: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  // A request being carried out: reload until it settles.
  // (Not while someone is typing: a half-written complaint is never thrown away.)
  document.querySelectorAll("[data-autorefresh]").forEach(function (el) {
    var seconds = parseInt(el.getAttribute("data-autorefresh"), 10) || 5;
    var tick = function () {
      var active = document.activeElement;
      var typing = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && active.value;
      if (typing) { window.setTimeout(tick, seconds * 1000); } else { window.location.reload(); }
    };
    window.setTimeout(tick, seconds * 1000);
  });

  document.querySelectorAll("[data-print]").forEach(function (el) {
    el.addEventListener("click", function () { window.print(); });
  });

  // Enterprise console: a selection that survives paging (kept in this tab only).
  var form = document.querySelector("form[data-selection]");
  if (form) {
    var key = "cd-selection-" + form.getAttribute("data-selection");
    var chosen = new Set(JSON.parse(window.sessionStorage.getItem(key) || "[]"));
    var boxes = form.querySelectorAll("input.row-select");
    var counter = document.getElementById("selection-count");
    var pageBox = document.getElementById("select-page");
    var allMatching = document.getElementById("all_matching");
    var save = function () {
      window.sessionStorage.setItem(key, JSON.stringify(Array.from(chosen)));
      // "all lines matching this filter" selects them all, whether or not their boxes are ticked here
      var n = allMatching && allMatching.checked ? counter.getAttribute("data-total") : chosen.size;
      if (counter) { counter.textContent = counter.getAttribute("data-template") ?
        counter.getAttribute("data-template").replace("{n}", n) : String(n); }
    };
    if (allMatching) { allMatching.addEventListener("change", function () { save(); }); }
    boxes.forEach(function (b) {
      b.checked = chosen.has(b.value);
      b.addEventListener("change", function () {
        if (b.checked) { chosen.add(b.value); } else { chosen.delete(b.value); }
        save();
      });
    });
    if (pageBox) {
      pageBox.addEventListener("change", function () {
        boxes.forEach(function (b) {
          b.checked = pageBox.checked;
          if (pageBox.checked) { chosen.add(b.value); } else { chosen.delete(b.value); }
        });
        save();
      });
    }
    form.addEventListener("submit", function () {
      document.getElementById("selected").value = Array.from(chosen).join(",");
      window.sessionStorage.removeItem(key);
    });
    save();
  }

  // Enterprise batch: the progress bar follows the batch until it settles.
  var batch = document.getElementById("batch");
  if (batch && batch.getAttribute("data-running") === "true") {
    var id = batch.getAttribute("data-batch-id");
    var bar = document.getElementById("batch-progress");
    var text = document.getElementById("progress-text");
    var phase = batch.getAttribute("data-phase");
    var poll = function () {
      fetch("/v1/enterprise/batches/" + encodeURIComponent(id), {credentials: "same-origin",
                                                                 headers: {"Accept": "application/json"}})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (b) {
          if (!b) { return; }
          bar.max = b.progress.total;
          bar.value = b.progress.done;
          bar.textContent = b.progress.percent + "%";
          if (text) { text.textContent = b.progress.done + " / " + b.progress.total + " (" + b.progress.percent + "%)"; }
          if (!b.running || b.phase !== phase) { window.location.reload(); return; }
          window.setTimeout(poll, 800);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 500);
  }
})();
