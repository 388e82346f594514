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
                        headers: {"X-CSRFToken": body.get("csrf_token"), "HX-Request": "true"}})
      .then(function (response) {
        return response.text().then(function (html) { return {shown: response.ok || response.status === 422, html: html}; });
      })
      .then(function (answer) {
        if (answer.shown) {  // the report as it is now (refused input: with the reasons at the fields)
          box.innerHTML = answer.html;
        } else {  // the step was not taken (e.g. the trial is gone): say why above the report kept
          var old = box.querySelector("[data-trial-error]");
          if (old) old.remove();
          var note = document.createElement("div");
          note.setAttribute("data-trial-error", "");
          note.setAttribute("role", "alert");
          note.innerHTML = answer.html;
          box.prepend(note);
          buttons.forEach(function (b) { b.disabled = false; });
        }
        var refused = box.querySelector("[data-testid=trial-refused], [data-trial-error]");
        (refused || box).scrollIntoView({behavior: "smooth", block: "start"});
      })
      .catch(function (err) { buttons.forEach(function (b) { b.disabled = false; }); window.alert(String(err)); })
      .then(function () { box.removeAttribute("aria-busy"); });
  });
})();
