// The knowledge-base editor: live Markdown preview (rendered by the server, which escapes
// raw HTML) and a size check before an upload is sent.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : "";

  function livePreview(textarea) {
    var target = document.getElementById(textarea.dataset.preview);
    var timer = null;
    var latest = 0;
    textarea.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var ticket = ++latest;
        fetch("/api/kb/preview", {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ markdown: textarea.value }),
          credentials: "same-origin",
        })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) {
            // Answers can arrive out of order; only the newest one counts.
            if (data && ticket === latest) target.innerHTML = data.html;
          });
      }, 250);
    });
  }

  function sizeCheck(form) {
    var limit = Number(form.dataset.maxBytes);
    var message = form.querySelector("[data-size-error]");
    form.addEventListener("submit", function (event) {
      var total = 0;
      form.querySelectorAll('input[type="file"]').forEach(function (input) {
        Array.prototype.forEach.call(input.files, function (f) { total += f.size; });
      });
      var tooBig = total > limit;
      message.hidden = !tooBig;
      if (tooBig) event.preventDefault();
    });
  }

  document.querySelectorAll("textarea[data-preview]").forEach(livePreview);
  document.querySelectorAll("form[data-max-bytes]").forEach(sizeCheck);
})();
