/* The chain designer's two extras, both small:
   - nothing typed is lost: every change saves the step and htmx draws the chain again
     (one change at a time); whatever the admin typed or ticked while a
     save was under way is put back into the new page and saved in turn;
   - steps can be reordered by dragging them. The up and down buttons do the same by
     keyboard and without JavaScript; a drop posts the new place through htmx, which sends
     the CSRF header like every other request. */
(function () {
  "use strict";
  var dragged = null;
  var dirty = {};  // id -> value the admin gave that no save has carried yet
  var busy = null;  // the element whose change of the chain is under way: the next waits
  var pressAgain = null;  // the id of a button pressed meanwhile

  function editor() { return document.getElementById("chain-editor"); }

  function valueOf(node) {
    return node.type === "checkbox" || node.type === "radio" ? node.checked : node.value;
  }

  function setValue(node, value) {
    if (node.type === "checkbox" || node.type === "radio") { node.checked = value; } else { node.value = value; }
  }

  function changesChain(event) {
    var box = editor();
    var elt = event.detail.elt;
    return box && elt && box.contains(elt) && event.detail.verb !== "get";
  }

  // Remember every edit the admin makes in the chain's forms.
  ["input", "change"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var node = event.target;
      var box = editor();
      if (node && node.id && node.form && box && box.contains(node)) {
        dirty[node.id] = valueOf(node);
      }
    }, true);
  });

  // One change at a time, so that each sees the one before it.
  document.addEventListener("htmx:confirm", function (event) {
    if (!changesChain(event)) { return; }
    if (!busy) { busy = event.detail.elt; return; }
    event.preventDefault();  // its values stay in `dirty`; a button is pressed again later
    var active = document.activeElement;
    if (active && active.tagName === "BUTTON" && active.id) { pressAgain = active.id; }
  });

  // A save carries the values of its form: they are no longer pending.
  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    var form = elt && elt.form ? elt.form : elt;
    if (!form || !form.elements) { return; }
    Array.prototype.forEach.call(form.elements, function (node) { delete dirty[node.id]; });
  });

  // (htmx's own events of a request are lost when its form was swapped away, so the
  // request itself says when it is over.)
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (elt === busy && event.detail.xhr) {
      event.detail.xhr.addEventListener("loadend", function () { if (busy === elt) { busy = null; } });
    }
  });

  // After the chain is drawn again, put back what was typed meanwhile, and save it.
  document.addEventListener("htmx:afterSettle", function (event) {
    var box = editor();
    var target = event.detail.target;  // the element swapped away: its id is the editor's
    if (!box || !target || target.id !== "chain-editor") { return; }
    var form = null;
    Object.keys(dirty).forEach(function (id) {
      var node = document.getElementById(id);
      if (!node || !box.contains(node)) { delete dirty[id]; return; }
      if (valueOf(node) !== dirty[id]) { setValue(node, dirty[id]); }
      var saves = node.form && (node.form.getAttribute("hx-trigger") || "").indexOf("change") !== -1;
      if (saves) { form = form || node.form; } else { delete dirty[id]; }  // kept until sent
    });
    if (form) {
      form.dispatchEvent(new Event("change", { bubbles: true }));
    } else if (pressAgain) {
      var button = document.getElementById(pressAgain);
      pressAgain = null;
      if (button) { button.click(); }
    }
  });

  function stepOf(node) {
    return node && node.closest ? node.closest(".chain-step[data-index]") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var step = stepOf(event.target);
    if (!step || event.target !== step) { return; }
    dragged = step;
    step.classList.add("is-dragged");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", step.getAttribute("data-index"));
  });

  document.addEventListener("dragover", function (event) {
    var step = stepOf(event.target);
    if (!dragged || !step || step === dragged) { return; }
    event.preventDefault();
    document.querySelectorAll(".is-drop-target").forEach(function (s) { s.classList.remove("is-drop-target"); });
    step.classList.add("is-drop-target");
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("is-dragged"); }
    document.querySelectorAll(".is-drop-target").forEach(function (s) { s.classList.remove("is-drop-target"); });
    dragged = null;
  });

  document.addEventListener("drop", function (event) {
    var step = stepOf(event.target);
    if (!dragged || !step || step === dragged || !window.htmx) { return; }
    event.preventDefault();
    var url = dragged.getAttribute("data-move-url");
    var to = step.getAttribute("data-index");
    if (url && to !== null) {
      window.htmx.ajax("POST", url, { source: dragged, target: "#chain-editor", swap: "outerHTML", values: { to: to } });
    }
  });
}());
