// Settings → Knowledge base: the text boxes follow the direction of the language typed
// (right to left for Arabic, Persian, Hebrew, Urdu…).
(function () {
  "use strict";
  var RTL = ["ar", "fa", "he", "ur", "ps", "ckb", "yi", "dv", "sd", "ug", "syr"];
  var language = document.getElementById("fd-kb-language");
  if (!language) return;
  function follow() {
    var parts = language.value.trim().split("-");
    var rtl = RTL.indexOf(parts[0].toLowerCase()) >= 0 || parts.indexOf("Arab") >= 0 || parts.indexOf("Hebr") >= 0;
    document.querySelectorAll("[data-follow-language]").forEach(function (box) {
      box.setAttribute("dir", rtl ? "rtl" : "ltr");
    });
  }
  language.addEventListener("input", follow);
})();
