// The one-click survey link's page: post the score at once. The link itself records nothing,
// so a mail scanner that opens every link (without running scripts) answers nothing.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosubmit]");
  if (form && !form.dataset.sent) {
    form.dataset.sent = "1";
    form.submit();
  }
})();
