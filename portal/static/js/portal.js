/* The portal's own behaviour, small on purpose: the browser's time zone for the server,
   live `visible_if` (the same rules the server applies, from conditions.js), a size check
   before a file is sent, and the invalid state of inputs after htmx fills their messages. */
(function () {
  "use strict";

  // Tell the server the browser's time zone, so times are shown in it.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    // Zone names are letters, digits, "_", "+", "-" and "/": safe in a cookie as they are.
    if (zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone) && document.cookie.indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (e) { /* an old browser keeps the server's choice */ }

  function answersOf(form) {
    var answers = {};
    new FormData(form).forEach(function (value, name) {
      if (typeof value !== "string") { return; }
      if (Object.prototype.hasOwnProperty.call(answers, name)) {
        answers[name] = [].concat(answers[name], value);
      } else {
        answers[name] = value;
      }
    });
    form.querySelectorAll(".field--choices").forEach(function (field) {
      var box = field.querySelector("input[type=checkbox]");
      if (box && !Array.isArray(answers[box.name])) {
        answers[box.name] = answers[box.name] === undefined ? [] : [answers[box.name]];
      }
    });
    return answers;
  }

  // Show and hide fields as the answers change: a hidden field counts as empty for the
  // conditions after it, and a hidden section hides everything up to the next section.
  function applyConditions(form) {
    if (!window.PortalConditions) { return; }
    var answers = answersOf(form);
    var sectionHidden = false;
    form.querySelectorAll(".field").forEach(function (field) {
      var isSection = field.hasAttribute("data-section");
      var rule = field.getAttribute("data-visible-if");
      var shown = true;
      if (rule) {
        try { shown = window.PortalConditions.evaluate(JSON.parse(rule), answers); } catch (e) { shown = true; }
      }
      if (isSection) {
        sectionHidden = !shown;
      } else {
        shown = shown && !sectionHidden;
      }
      field.hidden = !shown;
      if (!shown) {
        var name = field.id.replace(/^field-/, "");
        delete answers[name];
      }
    });
  }

  function tooLarge(input) {
    var limit = parseInt(input.getAttribute("data-max-bytes") || "0", 10);
    if (!limit || !input.files) { return false; }
    for (var i = 0; i < input.files.length; i++) {
      if (input.files[i].size > limit) { return true; }
    }
    return false;
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    // The language switcher needs no button where scripts run.
    document.querySelectorAll("select.auto-submit").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    var form = document.getElementById("entry");
    if (form) {
      applyConditions(form);
      form.addEventListener("input", function () { applyConditions(form); });
      form.addEventListener("change", function () { applyConditions(form); });
    }
  });

  // Refuse an oversized file before sending it over a phone connection.
  document.addEventListener("htmx:confirm", function (event) {
    var input = event.detail.elt;
    if (input && input.type === "file" && tooLarge(input)) {
      event.preventDefault();
      var slot = document.getElementById("error-" + input.id.replace(/^input-/, ""));
      if (slot) { slot.textContent = input.getAttribute("data-too-large"); }
      input.value = "";
    }
  });

  // After messages arrive, mark the inputs they belong to, for screen readers too.
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var replaced = event.detail.target;
    if (!replaced || !replaced.id || replaced.id.indexOf("error-") !== 0) { return; }
    var slot = document.getElementById(replaced.id);  // the element now in the page
    if (!slot) { return; }
    var name = slot.id.slice(6);
    var invalid = slot.textContent.trim() !== "";
    document.querySelectorAll("[name='" + name + "']").forEach(function (input) {
      if (invalid) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    });
  });
})();
