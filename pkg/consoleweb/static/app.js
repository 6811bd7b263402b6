// Hermez staff console: progressive enhancements only (every page works without JS).
(function () {
  "use strict";
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var msg = form.getAttribute && form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  });
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-approve-all]");
    if (!btn) { return; }
    var form = btn.form;
    form.querySelectorAll("fieldset select").forEach(function (s) { s.value = "approved"; });
    var cb = form.querySelector("#isVerified");
    if (cb) { cb.checked = true; }
  });
})();
