// A batch migration goes on by itself: the page of one finished batch sends the next one.
// Stopped (closed, offline), it goes on later from the same page's button.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var next = document.querySelector("form[data-continue]");
    if (next) window.setTimeout(function () { next.submit(); }, 400);
  });
})();
