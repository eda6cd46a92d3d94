// deskmail's only script (CSP: script-src 'self'). It sizes the sandboxed mail frames to their
// content; the frames themselves can never run script. Nothing here is needed to use a page.
(function () {
  function fit(frame) {
    try {
      var doc = frame.contentDocument;
      if (doc && doc.body) {
        // the body's own height: documentElement.scrollHeight never drops below the frame's
        // current height, so a short mail would keep the default 150px
        frame.style.height = (Math.ceil(doc.body.getBoundingClientRect().height) + 4) + "px";
      }
    } catch (e) { /* not same-origin: keep the default height */ }
  }
  function setup() {
    document.querySelectorAll("iframe.mail-frame").forEach(function (frame) {
      frame.addEventListener("load", function () { fit(frame); });
      fit(frame);
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setup); } else { setup(); }
})();
