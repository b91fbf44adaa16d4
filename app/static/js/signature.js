/* Drawing a signature: <div data-signature-pad hidden> holds a <canvas>, a clear button and a
   hidden <input name="drawing">. Without this script the box stays hidden and the signer types
   their name, which the form always asks for. With it, the finger, pen or mouse draws on the
   canvas (pointer events), and on submit the drawing goes along as a PNG data URL. */
(function () {
  "use strict";
  function setUp(pad) {
    if (pad.dataset.ready) return;
    var canvas = pad.querySelector("canvas");
    var input = pad.querySelector("input[name=drawing]");
    var clear = pad.querySelector("button[data-clear]");
    var form = pad.closest("form");
    if (!canvas || !input || !form || !canvas.getContext) return;
    pad.dataset.ready = "1";
    pad.hidden = false;
    var context = canvas.getContext("2d");
    var drawn = false;
    var last = null;
    function size() {
      // The surface matches the box inside its border. A drawing already made is kept, scaled to
      // the new box (a turned phone, or a scroll bar appearing as the page grows).
      var kept = null;
      if (drawn) {
        kept = document.createElement("canvas");
        kept.width = canvas.width;
        kept.height = canvas.height;
        kept.getContext("2d").drawImage(canvas, 0, 0);
      }
      var ratio = window.devicePixelRatio || 1;
      canvas.width = Math.round(canvas.clientWidth * ratio);
      canvas.height = Math.round(canvas.clientHeight * ratio);
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      context.lineWidth = 2.5;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#000";
      context.fillStyle = "#000";
      if (kept) context.drawImage(kept, 0, 0, canvas.clientWidth, canvas.clientHeight);
    }
    function point(event) {
      // Inside the border, in the drawing surface's own units (CSS pixels before the scale).
      var box = canvas.getBoundingClientRect();
      return { x: event.clientX - box.left - canvas.clientLeft, y: event.clientY - box.top - canvas.clientTop };
    }
    canvas.addEventListener("pointerdown", function (event) {
      canvas.setPointerCapture(event.pointerId);
      last = point(event);
      context.beginPath();
      context.arc(last.x, last.y, context.lineWidth / 2, 0, 2 * Math.PI);
      context.fill();  // a tap leaves a dot
      drawn = true;
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!last) return;
      var next = point(event);
      context.beginPath();
      context.moveTo(last.x, last.y);
      context.lineTo(next.x, next.y);
      context.stroke();
      last = next;
      drawn = true;
      event.preventDefault();
    });
    function stop() { last = null; }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    if (clear) {
      clear.addEventListener("click", function () {
        context.clearRect(0, 0, canvas.width, canvas.height);
        drawn = false;
        input.value = "";
      });
    }
    form.addEventListener("submit", function () {
      input.value = drawn ? canvas.toDataURL("image/png") : "";
    });
    size();
    var width = canvas.clientWidth;
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (canvas.clientWidth !== width) { width = canvas.clientWidth; size(); }
      }).observe(canvas);
    }
  }
  function scan(root) {
    if (root.querySelectorAll) root.querySelectorAll("[data-signature-pad]").forEach(setUp);
  }
  document.addEventListener("DOMContentLoaded", function () { scan(document); });
  document.addEventListener("htmx:load", function (event) { scan(event.target); });
})();
