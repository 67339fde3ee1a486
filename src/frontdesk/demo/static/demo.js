// The demo's pages: pickers that switch at once, and a phone that clears what was sent.
document.addEventListener("change", function (event) {
  var t = event.target;
  if (t && t.hasAttribute && t.hasAttribute("data-autosubmit") && t.form) t.form.submit();
});
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.detail && event.detail.elt;
  if (form && form.hasAttribute && form.hasAttribute("data-reset-after") && event.detail.successful) {
    form.reset();
    var input = form.querySelector("[name=text]");
    if (input) input.focus();
  }
  var feed = document.getElementById("fd-phone-feed");
  if (feed) feed.scrollTop = feed.scrollHeight;
});
