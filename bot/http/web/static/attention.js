/* Partnerline: what wants a staff member's attention, told in the tab's title ("(3) Inbox ·
   Agency"), as a badge on its icon, and, once they opt in, as desktop notifications.
   GET /inbox/attention answers the count (unread or at risk) and, past the watermark it gave
   last time, what is new for this person (bot/http/web/live.py); the page asks on load, on
   every live change (the `pl:changed` event inbox.js raises) and after its timeline is
   re-read (which marks it read). No build step. */
(function () {
  "use strict";

  var STORE = "partnerline.notify"; // "on": this browser shows notifications
  var after = null; // the server's watermark: what this page has been told of
  var baseTitle = "";
  var iconSvg = null; // the favicon's markup, for its badged variant
  var timer = null;
  var inFlight = false;
  var again = false;

  function supported() { return "Notification" in window; }

  function enabled() {
    return supported() && Notification.permission === "granted" &&
      window.localStorage.getItem(STORE) === "on";
  }

  function openConversation() {
    var m = /[?&]conversation=(\d+)/.exec(document.body.dataset.events || "");
    return m ? Number(m[1]) : null;
  }

  function badged(count) {
    if (!iconSvg || !count) return "/static/favicon.svg";
    var label = count > 99 ? "99+" : String(count);
    var size = label.length > 2 ? 9 : 12;
    var badge = '<circle cx="23" cy="9" r="9" fill="#b3261e"/>' +
      '<text x="23" y="' + (9 + size / 2.8).toFixed(1) + '" font-size="' + size +
      '" font-family="sans-serif" font-weight="700" text-anchor="middle" fill="#fff">' +
      label + "</text>";
    return "data:image/svg+xml," + encodeURIComponent(iconSvg.replace("</svg>", badge + "</svg>"));
  }

  function showCount(count) {
    document.title = (count ? "(" + count + ") " : "") + baseTitle;
    document.body.dataset.attention = String(count);
    var link = document.querySelector("link[rel~='icon']");
    if (link) link.href = badged(count);
  }

  function notify(notices) {
    if (!enabled()) return;
    var here = openConversation();
    notices.forEach(function (n) {
      // The conversation in front of them already shows its new message.
      if (n.kind === "message" && n.conversation === here && document.hasFocus()) return;
      var note = new Notification(n.title, { body: n.body, tag: n.key });
      note.onclick = function () { window.focus(); window.location = n.url; };
    });
  }

  function refresh() {
    if (inFlight) { again = true; return; }
    inFlight = true;
    var url = "/inbox/attention" + (after ? "?after=" + encodeURIComponent(after) : "");
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        var first = after === null;
        after = data.after;
        showCount(data.count);
        if (!first) notify(data.notices || []);
      })
      .catch(function () { /* the next change asks again */ })
      .then(function () {
        inFlight = false;
        if (again) { again = false; soon(); }
      });
  }

  // Several changes in a burst, and the fragments they re-read, become one look.
  function soon() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () { timer = null; refresh(); }, 250);
  }

  function toggleButton() {
    var button = document.getElementById("notify-toggle");
    if (!button || !supported()) return;
    function show() {
      var on = enabled();
      button.hidden = false;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? "Notifications on" :
        Notification.permission === "denied" ? "Notifications blocked" : "Enable notifications";
      button.disabled = Notification.permission === "denied";
    }
    button.addEventListener("click", function () {
      if (enabled()) {
        window.localStorage.setItem(STORE, "off");
        show();
        return;
      }
      Notification.requestPermission().then(function (permission) {
        window.localStorage.setItem(STORE, permission === "granted" ? "on" : "off");
        show();
      });
    });
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("header.top")) return; // not signed in
    baseTitle = document.title.replace(/^\(\d+\) /, "");
    toggleButton();
    fetch("/static/favicon.svg", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) { iconSvg = text; showCount(Number(document.body.dataset.attention || 0)); })
      .catch(function () {});
    refresh();
    document.body.addEventListener("pl:changed", soon);
    document.body.addEventListener("htmx:afterSwap", function (e) {
      var target = e.detail && (e.detail.target || e.detail.elt);
      if (target && target.id === "timeline") soon();
    });
  });
})();
