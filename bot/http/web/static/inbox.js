/* Partnerline inbox: live updates (server-sent events), countdowns. No build step.
   Absolute times come rendered by the server in the staff member's zone, which they name;
   the page leaves them as they are, so every device shows one instant alike. */
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function left(ms) {
    var s = Math.round(Math.abs(ms) / 1000);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var text = h ? h + "h " + pad(m) + "m" : m ? m + "m " + pad(sec) + "s" : sec + "s";
    return ms < 0 ? "overdue " + text : text + " left";
  }

  // The server's clock, not the device's, decides what is due: keep the difference.
  var skew = 0;

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
      var due = Date.parse(el.dataset.due);
      var risk = el.dataset.risk ? Date.parse(el.dataset.risk) : NaN;
      el.textContent = left(due - now);
      el.classList.toggle("over", now >= due);
      el.classList.toggle("risk", now < due && !isNaN(risk) && now >= risk);
    });
  }

  var status = null;
  function say(text) { if (status) status.textContent = text; }

  function listen(url) {
    if (!window.EventSource) return;
    var pending = null;
    var source = new EventSource(url);
    source.addEventListener("changed", function () {
      // Several changes in a burst become one refresh.
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        if (window.htmx) htmx.trigger(document.body, "pl:changed");
      }, 150);
    });
    source.addEventListener("ready", function () { say(""); document.body.dataset.live = "on"; });
    source.onerror = function () { document.body.dataset.live = "reconnecting"; };
  }

  document.addEventListener("DOMContentLoaded", function () {
    status = document.getElementById("live-status");
    var serverNow = Date.parse(document.body.dataset.now || "");
    if (!isNaN(serverNow)) skew = serverNow - Date.now();
    tick();
    setInterval(tick, 1000);
    if (document.body.dataset.events) listen(document.body.dataset.events);
    document.body.addEventListener("htmx:afterSwap", tick);
    document.body.addEventListener("htmx:afterSettle", tick);
    // The composer's channel select (several channels): the reply box's label names it.
    var channelName = function () {
      var select = document.getElementById("reply-channel");
      var name = document.getElementById("reply-channel-name");
      if (select && name) name.textContent = select.options[select.selectedIndex].text;
    };
    document.body.addEventListener("change", function (e) {
      if (e.target.id === "reply-channel") channelName();
    });
    document.body.addEventListener("reset", function () { setTimeout(channelName, 0); }, true);
    document.body.addEventListener("htmx:afterRequest", function (e) {
      var form = e.target.closest && e.target.closest("form[data-reset]");
      var xhr = e.detail.xhr;
      // X-Form-Sent: done, and the answer is a notice for the flash area (keep it).
      if (form && e.detail.successful && (xhr.status === 204 || xhr.getResponseHeader("X-Form-Sent"))) {
        form.reset();
        var flash = document.getElementById("flash");
        if (flash && xhr.status === 204) flash.textContent = "";
      }
    });
    document.body.addEventListener("htmx:responseError", function (e) {
      if (e.detail.xhr.status === 401) window.location = "/login";
      else {
        // An unexpected error names the reference of its log line (bot/server_errors.py).
        var ref = e.detail.xhr.getResponseHeader("X-Error-Reference");
        say("Something went wrong (" + e.detail.xhr.status + (ref ? ", reference " + ref : "") +
          "); reload the page.");
      }
    });
  });
})();
