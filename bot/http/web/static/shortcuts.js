/* Partnerline: keyboard shortcuts. In the list j/k move the selection and enter opens it; in a
   conversation r and n go to the reply and the note, a assigns it to me, e closes it; ? shows
   them all. Never while typing in a field, nor with ctrl, alt or meta held. No build step. */
(function () {
  "use strict";

  var KEYS = [
    ["j", "Next conversation in the list"],
    ["k", "Previous conversation in the list"],
    ["Enter", "Open the selected conversation"],
    ["r", "Write a reply"],
    ["n", "Write an internal note"],
    ["a", "Assign the conversation to me"],
    ["e", "Close the conversation"],
    ["?", "Show these shortcuts"]
  ];
  var selected = null; // the data-conversation of the selected row, kept across live re-reads

  function typing(el) {
    if (!el || !el.tagName) return false;
    var tag = el.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable;
  }

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#rows li.row")); }

  function mark(row) {
    rows().forEach(function (r) {
      r.classList.toggle("selected", r === row);
      if (r === row) r.setAttribute("aria-current", "true"); else r.removeAttribute("aria-current");
    });
    if (!row) return;
    selected = row.dataset.conversation;
    var link = row.querySelector("a");
    if (link) link.focus();
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var list = rows();
    if (!list.length) return;
    var at = list.findIndex(function (r) { return r.dataset.conversation === selected; });
    var next = at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step));
    mark(list[next]);
  }

  function open() {
    var row = rows().find(function (r) { return r.dataset.conversation === selected; });
    var link = row && row.querySelector("a");
    if (link) window.location = link.getAttribute("href");
  }

  function focusField(id) {
    var field = document.getElementById(id);
    if (!field) return false;
    field.focus();
    return true;
  }

  function submit(selector) {
    var form = document.querySelector(selector);
    if (!form) return false;
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
    return true;
  }

  function assignToMe() {
    var header = document.querySelector("header.top[data-staff]");
    var choice = document.getElementById("assign-staff");
    if (!header || !choice) return false;
    choice.value = header.dataset.staff;
    if (choice.value !== header.dataset.staff) return false; // not among the assignable
    return submit("#conv-head form[action$='/assign']");
  }

  function help() {
    var dialog = document.getElementById("shortcuts-help");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "shortcuts-help";
      dialog.className = "shortcuts-help";
      dialog.setAttribute("aria-labelledby", "shortcuts-title");
      var title = document.createElement("h2");
      title.id = "shortcuts-title";
      title.textContent = "Keyboard shortcuts";
      var list = document.createElement("dl");
      KEYS.forEach(function (k) {
        var dt = document.createElement("dt");
        var key = document.createElement("kbd");
        key.textContent = k[0];
        dt.appendChild(key);
        var dd = document.createElement("dd");
        dd.textContent = k[1];
        list.appendChild(dt);
        list.appendChild(dd);
      });
      var close = document.createElement("button");
      close.type = "button";
      close.textContent = "Close";
      close.addEventListener("click", function () { dialog.close(); });
      dialog.appendChild(title);
      dialog.appendChild(list);
      dialog.appendChild(close);
      document.body.appendChild(dialog);
    }
    if (dialog.open) dialog.close(); else dialog.showModal();
  }

  function onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    if (typing(e.target)) return;
    var dialog = document.getElementById("shortcuts-help");
    if (dialog && dialog.open && e.key !== "?") return; // the dialog has the keys (Escape)
    var done = true;
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "Enter":
        // A focused link or button does its own thing; only a selected row is ours.
        if (e.target && e.target.closest && e.target.closest("a, button")) { done = false; break; }
        open();
        break;
      case "r": done = focusField("reply-text"); break;
      case "n": done = focusField("note-text"); break;
      case "a": done = assignToMe(); break;
      case "e": done = submit("#conv-head form[action$='/close']"); break;
      case "?": help(); break;
      default: done = false;
    }
    if (done) e.preventDefault();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.addEventListener("keydown", onKey);
    // The list is re-read live: keep the selection on the same conversation.
    document.body.addEventListener("htmx:afterSettle", function () {
      if (selected === null) return;
      var row = rows().find(function (r) { return r.dataset.conversation === selected; });
      if (row && !row.classList.contains("selected")) {
        row.classList.add("selected");
        row.setAttribute("aria-current", "true");
        // The old row had the focus; give it to the new one unless it went elsewhere.
        var link = row.querySelector("a");
        if (link && document.activeElement === document.body) link.focus();
      }
    });
  });
})();
