/* Dialogs loaded by htmx open as real modal dialogs (focus trapped, Escape closes).
   Without JavaScript the same form is a full page, so nothing here is required. */
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = event.target.querySelector && event.target.querySelector("dialog[open]");
    if (!dialog || !dialog.showModal || dialog.matches(":modal")) return;
    dialog.removeAttribute("open");  // showModal() needs a closed dialog; close() would fire "close"
    dialog.showModal();
  });
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (dialog.tagName === "DIALOG" && dialog.parentElement && dialog.parentElement.id === "request-dialog") {
      dialog.remove();
    }
  }, true);
})();
