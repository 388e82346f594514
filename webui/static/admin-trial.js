// The steps of a trial run kept in its sandbox: each form of the report ("complete", "fill
// in by hand", "move the clock", "send the message", "run on") is sent in the background
// and the box shows the report the server answers with (also when it refuses the input).
(function () {
  "use strict";
  var box = document.getElementById("trial-box");
  if (!box) return;
  box.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-trial-step]");
    if (!form) return;
    event.preventDefault();
    var body = new FormData(form);
    box.querySelectorAll("select[data-choice]").forEach(function (choice) {
      body.append("choice." + choice.getAttribute("data-choice"), choice.value);
    });
    var buttons = box.querySelectorAll("form[data-trial-step] button");
    buttons.forEach(function (b) { b.disabled = true; });
    box.setAttribute("aria-busy", "true");
    // getAttribute: the form has a field named "action", which form.action would return.
    fetch(form.getAttribute("action"), {method: "POST", body: body, credentials: "same-origin",
                        headers: {"X-CSRFToken": body.get("csrf_token")}})
      .then(function (response) { return response.text(); })
      .then(function (html) {
        box.innerHTML = html;
        var refused = box.querySelector("[data-testid=trial-refused]");
        (refused || box).scrollIntoView({behavior: "smooth", block: "start"});
      })
      .catch(function (err) { buttons.forEach(function (b) { b.disabled = false; }); window.alert(String(err)); })
      .then(function () { box.removeAttribute("aria-busy"); });
  });
})();
