/* SLA countdowns: every [data-testid=fd-sla] badge that is running counts down to its due
   instant each second; when the sla.breached event arrives (desk.js passes every event of
   the events socket on as "fd:event") the badge turns to "breached" at once, and a warning
   marks it at risk. Text comes from the server-rendered data attributes, never from events. */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var locale = { ar: "ar-u-nu-arab", fa: "fa-u-nu-arabext" }[lang] || "en";

  function digits(n, pad) {
    var text = (pad && n < 10 ? "0" : "") + String(n);
    if (locale === "en") return text;
    return text.replace(/[0-9]/g, function (d) { return Number(d).toLocaleString(locale); });
  }
  function clock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return digits(h) + ":" + digits(m, true) + ":" + digits(s, true);
  }
  function words(el, key, time) {
    return (el.getAttribute(key) || "").replace("{kind}", el.getAttribute("data-label") || "").replace("{time}", time || "");
  }
  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }
  function tick() {
    each('[data-testid="fd-sla"][data-sla-state="running"]', function (el) {
      var due = Date.parse(el.getAttribute("data-sla-due") || "");
      if (isNaN(due)) return;
      var left = Math.ceil((due - Date.now()) / 1000);
      // Past the due time the badge says "due now" until the breach event confirms it.
      el.textContent = left > 0 ? words(el, "data-left", clock(left)) : words(el, "data-due-now");
      if (left <= 0) el.classList.add("sla-at-risk");
    });
  }
  function badges(p) {
    return '[data-testid="fd-sla"][data-sla-conversation="' + Number(p.conversation_id) + '"][data-sla-kind="' + String(p.kind || "").replace(/[^a-z_]/g, "") + '"]';
  }
  document.addEventListener("fd:event", function (e) {
    var event = e.detail || {}, p = event.payload || {};
    if (event.type === "sla.breached") {
      each(badges(p), function (el) {
        el.setAttribute("data-sla-state", "breached");
        el.classList.remove("sla-running", "sla-at-risk");
        el.classList.add("sla-breached");
        el.textContent = words(el, "data-breached-text");
      });
    } else if (event.type === "sla.warning") {
      each(badges(p), function (el) { el.classList.add("sla-at-risk"); });
    }
  });
  tick();
  setInterval(tick, 1000);
})();
