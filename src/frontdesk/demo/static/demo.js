// The demo's pages: pickers that switch at once, and a phone that clears what was sent.
document.addEventListener("change", function (event) {
  var t = event.target;
  if (t && t.hasAttribute && t.hasAttribute("data-autosubmit") && t.form) t.form.submit();
  if (t && t.id === "fd-phone-image") {
    var label = document.querySelector("label[for=fd-phone-image]");
    if (label) label.classList.toggle("chosen", t.files.length > 0);
  }
});
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.detail && event.detail.elt;
  if (form && form.hasAttribute && form.hasAttribute("data-reset-after") && event.detail.successful) {
    form.reset();
    var chosen = form.querySelector(".phone-attach.chosen");
    if (chosen) chosen.classList.remove("chosen");
    var input = form.querySelector("[name=text]");
    if (input) input.focus();
  }
  // Follow new bubbles, but leave a reader who scrolled back alone on the 1 s refreshes.
  var feed = document.getElementById("fd-phone-feed");
  if (feed && feed.children.length !== shown) {
    shown = feed.children.length;
    feed.scrollTop = feed.scrollHeight;
  }
});
var shown = -1;
