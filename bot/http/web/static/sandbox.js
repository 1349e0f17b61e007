// /sandbox: choosing whom to play switches at once. Without JavaScript the form's "Switch"
// button does it; with it the button is not needed, so it is hidden.
(function () {
  "use strict";
  document.querySelectorAll("form[data-switch-on-change]").forEach(function (form) {
    form.querySelectorAll("button[type=submit]").forEach(function (b) { b.hidden = true; });
    form.addEventListener("change", function () { form.submit(); });
  });
})();
