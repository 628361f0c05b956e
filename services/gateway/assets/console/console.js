// FlowMate console: the few things plain HTML cannot do. Loaded as a file (the CSP allows no inline script).
// - [data-copy]: a button that copies the text of the element its value names (by id) to the clipboard.
// - [data-local-time]: shows an RFC 3339 time in the browser's time zone as a tooltip.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  });
  function localTimes(root) {
    root.querySelectorAll("[data-local-time]").forEach(function (el) {
      var t = new Date(el.getAttribute("data-local-time"));
      if (!isNaN(t)) el.title = t.toLocaleString();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSettle", function (event) { localTimes(event.target); });
})();
