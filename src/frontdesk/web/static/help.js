// The articles this visitor read (newest 20, in order, this browser only): the contact
// form sends them, so the agent knows what the customer already tried.
(function () {
  "use strict";
  var KEY = "fd-help-read";
  var read = [];
  try { read = JSON.parse(localStorage.getItem(KEY)) || []; } catch (e) { read = []; }
  var article = document.querySelector("[data-help-article-id]");
  if (article) {
    var id = Number(article.getAttribute("data-help-article-id"));
    read = read.filter(function (n) { return n !== id; }).concat([id]).slice(-20);
    try { localStorage.setItem(KEY, JSON.stringify(read)); } catch (e) { /* private mode */ }
  }
  var field = document.querySelector("[data-help-read]");
  if (field) field.value = read.join(",");
})();
// The help centre's search box: suggestions from the public autocomplete API as the visitor
// types (a combobox: arrows move, Enter opens, Escape closes). No build step, no library.
(function () {
  "use strict";
  var input = document.getElementById("fd-help-q");
  var list = document.getElementById("fd-help-suggestions");
  if (!input || !list) return;
  var lang = input.getAttribute("data-language");
  var timer = null;
  var asked = 0;
  var active = -1;

  function close() {
    list.hidden = true;
    list.textContent = "";
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function open(id) {
    window.location.href = "/help/" + lang + "/articles/" + id;
  }

  function show(items) {
    list.textContent = "";
    active = -1;
    items.forEach(function (item, i) {
      var li = document.createElement("li");
      li.id = "fd-help-suggestion-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.setAttribute("lang", item.language);
      li.setAttribute("dir", "auto");
      li.setAttribute("data-testid", "fd-help-suggestion");
      li.setAttribute("data-article", String(item.article_id));
      li.textContent = item.text;
      li.addEventListener("mousedown", function (event) {
        event.preventDefault();
        open(item.article_id);
      });
      list.appendChild(li);
    });
    list.hidden = items.length === 0;
    input.setAttribute("aria-expanded", items.length ? "true" : "false");
  }

  function move(step) {
    var options = list.querySelectorAll("[role=option]");
    if (!options.length) return;
    if (active >= 0) options[active].setAttribute("aria-selected", "false");
    active = (active + step + options.length) % options.length;
    options[active].setAttribute("aria-selected", "true");
    input.setAttribute("aria-activedescendant", options[active].id);
  }

  function ask() {
    var q = input.value.trim();
    if (!q) { close(); return; }
    var mine = ++asked;
    var url = "/api/v1/public/kb/autocomplete?q=" + encodeURIComponent(q) +
      "&language=" + encodeURIComponent(lang);
    fetch(url, { headers: { accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { items: [] }; })
      .then(function (body) { if (mine === asked) show(body.items || []); })
      .catch(function () { if (mine === asked) close(); });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(ask, 150);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { event.preventDefault(); move(1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(-1); }
    else if (event.key === "Escape") { close(); }
    else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      open(list.querySelectorAll("[role=option]")[active].getAttribute("data-article"));
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 100); });
})();
