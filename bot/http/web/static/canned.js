/* Canned replies in the reply composer: typing "/" first opens a picker filtered by title;
   arrows move, enter (or a click) inserts, escape closes. The server fills the placeholders
   (bot/usecases/canned.py) and puts the replies, as JSON, in the textarea's data-canned. */
(function () {
  "use strict";

  function setUp(box) {
    var replies = [];
    try { replies = JSON.parse(box.dataset.canned || "[]"); } catch (e) { replies = []; }
    var list = document.createElement("ul");
    list.id = "canned-picker";
    list.className = "canned-picker";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Canned replies");
    list.hidden = true;
    box.insertAdjacentElement("afterend", list);
    box.setAttribute("aria-controls", list.id);
    box.setAttribute("aria-expanded", "false");
    var shown = [], active = 0;

    function close() {
      list.hidden = true;
      box.setAttribute("aria-expanded", "false");
      box.removeAttribute("aria-activedescendant");
    }

    function draw() {
      list.textContent = "";
      shown.forEach(function (r, i) {
        var li = document.createElement("li");
        li.id = "canned-option-" + r.id;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", i === active ? "true" : "false");
        var title = document.createElement("strong");
        title.textContent = r.title;
        var preview = document.createElement("span");
        preview.textContent = r.text;
        li.appendChild(title);
        li.appendChild(preview);
        // mousedown, not click: the textarea keeps its focus.
        li.addEventListener("mousedown", function (e) { e.preventDefault(); insert(r); });
        list.appendChild(li);
      });
      if (!shown.length) {
        var none = document.createElement("li");
        none.className = "empty";
        none.textContent = replies.length ? "No canned reply matches." : "No canned replies yet.";
        list.appendChild(none);
        box.removeAttribute("aria-activedescendant");
      } else {
        box.setAttribute("aria-activedescendant", "canned-option-" + shown[active].id);
      }
      list.hidden = false;
      box.setAttribute("aria-expanded", "true");
    }

    function insert(r) {
      box.value = r.text;
      close();
      box.focus();
      box.setSelectionRange(box.value.length, box.value.length);
    }

    box.addEventListener("input", function () {
      var m = /^\/([^\n]*)$/.exec(box.value);
      if (!m) { close(); return; }
      var q = m[1].trim().toLowerCase();
      shown = replies.filter(function (r) { return r.title.toLowerCase().indexOf(q) !== -1; });
      active = 0;
      draw();
    });

    box.addEventListener("keydown", function (e) {
      if (list.hidden) return;
      if (e.key === "Escape") { e.preventDefault(); close(); return; }
      if (!shown.length) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        active = (active + (e.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
        draw();
      } else if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        e.stopPropagation();  // not a shortcut, not a submit
        insert(shown[active]);
      }
    });
    box.addEventListener("blur", close);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-canned]").forEach(setUp);
  });
})();
