/* The form designer's few behaviours (htmx does the rest): drag a question to move it,
   and remember which question editors are open, so a redraw keeps them open. */
(function () {
  "use strict";
  var dragged = null;

  // htmx carries an element's style attribute over a redraw; under this portal's
  // Content-Security-Policy (no inline style) that is refused, so carry classes only.
  if (window.htmx) { window.htmx.config.attributesToSettle = ["class", "width", "height"]; }

  function rowOf(node) {
    return node && node.closest ? node.closest(".field-row") : null;
  }

  document.addEventListener("dragstart", function (event) {
    var row = rowOf(event.target);
    if (!row || event.target !== row) { return; }
    dragged = row;
    row.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", row.getAttribute("data-index"));
  });

  document.addEventListener("dragover", function (event) {
    var row = rowOf(event.target);
    if (dragged && row && row.parentNode === dragged.parentNode) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "move";
    }
  });

  document.addEventListener("drop", function (event) {
    var row = rowOf(event.target);
    if (!dragged || !row || row.parentNode !== dragged.parentNode) { return; }
    event.preventDefault();
    var from = dragged.getAttribute("data-index");
    var to = row.getAttribute("data-index");
    var form = document.getElementById("editor");
    var input = document.getElementById("drag-move");
    if (form && input && from !== to) {
      input.value = from + ":" + to;  // the redrawn editor comes back with it empty
      form.requestSubmit();
    }
  });

  document.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
  });

  // An open question editor posts its name as "open", so the redrawn editor keeps it open.
  document.addEventListener("toggle", function (event) {
    var details = event.target;
    if (!details.classList || !details.classList.contains("field-editor")) { return; }
    var state = details.parentNode.querySelector("input.open-state");
    if (state) { state.disabled = !details.open; }
  }, true);
}());
