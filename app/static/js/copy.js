/* Copy buttons for read-only fields: <button data-copy="field-id" hidden>. The field works without
   this script (select and copy by hand); the button only appears where the Clipboard API exists.
   The words it shows afterwards come from the page, in the page's language: data-copied and
   data-copy-failed. */
(function () {
  "use strict";
  function reveal(root) {
    if (!navigator.clipboard || !root.querySelectorAll) return;
    root.querySelectorAll("button[data-copy]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("DOMContentLoaded", function () { reveal(document); });
  document.addEventListener("htmx:load", function (event) { reveal(event.target); });
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[readonly]")) event.target.select();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    field.select();
    navigator.clipboard.writeText(field.value).then(
      function () { button.textContent = button.getAttribute("data-copied") || "Copied"; },
      function () {
        button.textContent = button.getAttribute("data-copy-failed") || "Select the address and copy it";
      }
    );
  });
})();
