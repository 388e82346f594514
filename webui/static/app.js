// Small behaviours on server-rendered pages: table rows in forms, htmx error display.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var box = add.closest("[data-rows]");
      var next = parseInt(add.getAttribute("data-next") || "0", 10);
      var html = box.querySelector("template").innerHTML.split("__i__").join(String(next));
      add.setAttribute("data-next", String(next + 1));
      box.querySelector("table.rows tbody").insertAdjacentHTML("beforeend", html);
      var first = box.querySelector("table.rows tbody tr:last-child input, table.rows tbody tr:last-child select, table.rows tbody tr:last-child textarea");
      if (first) first.focus();
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) remove.closest("tr").remove();
  });

  // A form with data-confirm asks before it is sent (retiring or removing a catalog item).
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // Print buttons (documents, project records): the browser's own print dialog.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-print]");
    if (button) window.print();
  });

  // Filters that apply as soon as a choice is made (no inline handlers: the CSP forbids them).
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });

  document.addEventListener("DOMContentLoaded", function () {
    if (!window.htmx) return;
    // Show refusals (403, 404, 409, 422) in the page's message area instead of dropping them.
    htmx.config.responseHandling = [
      {code: "204", swap: false},
      {code: "[23]..", swap: true},
      {code: "[45]..", swap: true, error: true, target: "#htmx-error", swapOverride: "innerHTML"}
    ];
  });
})();
