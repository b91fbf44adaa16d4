/* Dialogs loaded by htmx open as real modal dialogs (focus trapped, Escape closes), and a form
   sent back with errors (422) brings its first wrong field into view and focus, so that on a
   phone nobody is left looking at an unchanged screen. Without JavaScript the same form is a
   full page, so nothing here is required. */
(function () {
  "use strict";
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = event.target.querySelector && event.target.querySelector("dialog[open]");
    if (!dialog || !dialog.showModal || dialog.matches(":modal")) return;
    dialog.removeAttribute("open");  // showModal() needs a closed dialog; close() would fire "close"
    dialog.showModal();
  });
  // afterSettle fires on the new content itself, also when it replaced the form (outerHTML).
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.xhr || event.detail.xhr.status !== 422 || !event.target.querySelector) return;
    var field = event.target.querySelector(
      "[aria-invalid=true], .has-error input, .has-error select, .has-error textarea");
    if (!field) return;
    field.scrollIntoView({block: "center"});
    field.focus({preventScroll: true});
  });
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (dialog.tagName === "DIALOG" && dialog.parentElement && dialog.parentElement.id === "request-dialog") {
      dialog.remove();
    }
  }, true);
})();
