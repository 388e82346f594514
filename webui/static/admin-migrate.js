// A migration run goes on in the background: its page reloads itself until the run is done.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector("[data-run-running]")) window.setTimeout(function () { window.location.reload(); }, 2000);
  });
})();
