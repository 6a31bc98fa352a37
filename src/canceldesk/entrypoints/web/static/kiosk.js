// Kiosk mode (web/kiosk.py): after data-idle-seconds without a touch, clear the screen at once
// (nothing of the last person stays visible), then end the session and return to the kiosk login.
(function () {
  "use strict";
  var body = document.body;
  if (!body || !body.classList.contains("kiosk")) { return; }
  var limit = (parseInt(body.getAttribute("data-idle-seconds"), 10) || 60) * 1000;
  var timer = null;

  function clearAndLeave() {
    var main = document.getElementById("main");
    if (main) { main.innerHTML = ""; }
    body.classList.add("kiosk-cleared");
    var form = document.getElementById("kiosk-logout");
    if (form) { form.submit(); } else if (location.pathname !== "/kiosk") { location.replace("/kiosk"); }
    else { document.querySelectorAll("input:not([type=hidden])").forEach(function (i) { i.value = ""; }); }
  }

  function reset() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(clearAndLeave, limit);
  }

  ["pointerdown", "keydown", "touchstart", "wheel", "input", "mousemove"].forEach(function (name) {
    document.addEventListener(name, reset, { passive: true });
  });
  reset();
})();
