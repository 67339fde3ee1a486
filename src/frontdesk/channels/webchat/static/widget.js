/* Frontdesk chat widget: <script src="https://HOST/widget.js" data-inbox="ID" async></script>
   Optional: data-user-id + data-user-hash (hex HMAC-SHA256 of the user id with the inbox
   secret, computed by the site's server) link a signed-in user to their customer record.
   Vanilla JS, no build step. Text is only ever inserted with textContent. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.FrontdeskWidget) return;
  var HOST = new URL(script.src, location.href).origin;
  var INBOX = script.getAttribute("data-inbox");
  var USER_ID = script.getAttribute("data-user-id");
  var USER_HASH = script.getAttribute("data-user-hash");
  var KEY = "fd-widget:" + HOST + ":" + INBOX;
  var IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
  var cfg = null, t = function (s) { return (cfg && cfg.strings[s]) || s; };
  var state = load(), socket = null, wantSocket = true, retry = 0, retryTimer = null;
  var els = {}, shown = {}, typingTimer = null, lastTyping = 0, readUpTo = 0, since = 0;
  var sticky = "";  // a notice that stays until the visitor writes again
  var calls = null;  // the call UI (widget-call.js), when the inbox allows calls

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "m" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    if (text != null) node.textContent = text;
    return node;
  }
  function post(path, body) {
    return fetch(HOST + path, {
      method: "POST", headers: { "Content-Type": "text/plain" }, body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) throw failure(r, data);
        return data;
      });
    });
  }

  function failure(r, data) {
    var err = new Error((data.error && data.error.message) || r.statusText);
    err.code = data.error && data.error.code;
    return err;
  }

  function start() {
    var link = el("link", { rel: "stylesheet", href: HOST + "/widget.css" });
    document.head.appendChild(link);
    fetch(HOST + "/widget/api/config?inbox=" + encodeURIComponent(INBOX))
      .then(function (r) { return r.json(); })
      .then(function (data) { cfg = data; build(); if (!needsForm()) session(); });
  }

  function needsForm() {
    return !state.token && !USER_ID && cfg.prechat && cfg.prechat.enabled;
  }

  function session(extra) {
    var body = { inbox_id: Number(INBOX), token: state.token || null };
    if (USER_ID) { body.user_id = USER_ID; body.user_hash = USER_HASH; }
    for (var k in extra || {}) body[k] = extra[k];
    return post("/widget/api/session", body).then(function (data) {
      state.token = data.token; save();
      if (data.expired) expiredNotice();
      els.form.hidden = true; els.composer.hidden = false;
      connect();
    }).catch(function (err) { notice(err.message); });
  }

  function expiredNotice() {
    sticky = t("Your chat session expired. A new chat has started; messages not yet sent will be sent in it.");
    notice("");
  }

  // The token expired (or is no longer valid): start a new anonymous chat. What the old one
  // showed is removed (this browser can no longer open it); unsent messages stay queued and
  // go out in the new chat, and the visitor is told so.
  function restart() {
    disconnect();
    state.token = null; delete state.email; save();
    for (var id in shown) if (shown[id].parentNode) shown[id].parentNode.removeChild(shown[id]);
    shown = {}; since = 0; readUpTo = 0;
    expiredNotice();
    if (needsForm()) { els.form.hidden = false; els.composer.hidden = true; }
    else session();
  }

  function handle(err) {
    if (err.code === "token_expired" || err.code === "bad_token") restart();
    else if (err.code === "rate_limited") notice(t("Too many requests: try again in a minute."));
    else notice(err.message);
  }

  function build() {
    var root = el("div", { "class": "fdw-root", lang: cfg.language, dir: cfg.dir });
    root.style.setProperty("--fdw-color", cfg.color);
    root.style.setProperty("--fdw-text", cfg.text_color);
    var launcher = el("button", {
      type: "button", "class": "fdw-launcher", "data-testid": "fd-widget-launcher",
      "aria-expanded": "false", "aria-controls": "fdw-panel"
    }, t("Open chat"));
    var panel = el("section", {
      id: "fdw-panel", "class": "fdw-panel", role: "dialog", "aria-label": cfg.title
    });
    panel.hidden = true;
    var header = el("div", { "class": "fdw-header" });
    header.appendChild(el("h2", { "class": "fdw-title" }, cfg.title));
    var close = el("button", { type: "button", "class": "fdw-close", "aria-label": t("Close chat") }, "×");
    header.appendChild(close);
    var status = el("p", { "class": "fdw-status", role: "status" });
    var queue = el("p", { "class": "fdw-queue", role: "status", "data-testid": "fd-widget-queue" });
    queue.hidden = true;
    var list = el("ol", {
      "class": "fdw-messages", "data-testid": "fd-widget-messages",
      "aria-live": "polite", "aria-label": t("Messages"), tabindex: "0"
    });
    var greeting = el("li", { "class": "fdw-msg fdw-agent fdw-greeting" }, cfg.greeting);
    list.appendChild(greeting);
    var typing = el("p", { "class": "fdw-typing", "aria-live": "polite" });
    typing.hidden = true;
    var form = prechatForm();
    var offline = offlineForm();
    var composer = el("form", { "class": "fdw-composer" });
    var inputId = "fdw-input-" + INBOX;
    composer.appendChild(el("label", { "for": inputId, "class": "fdw-sr" }, t("Type a message…")));
    var input = el("input", {
      id: inputId, type: "text", "class": "fdw-input", autocomplete: "off", dir: "auto",
      placeholder: t("Type a message…"), "data-testid": "fd-widget-input", maxlength: "10000"
    });
    var fileId = "fdw-file-" + INBOX;
    var fileLabel = el("label", { "for": fileId, "class": "fdw-attach", title: t("Attach a file") }, "+");
    fileLabel.appendChild(el("span", { "class": "fdw-sr" }, t("Attach a file")));
    var file = el("input", { id: fileId, type: "file", "class": "fdw-file", accept: cfg.upload.types.join(",") });
    var send = el("button", { type: "submit", "class": "fdw-send", "data-testid": "fd-widget-send" }, t("Send"));
    composer.appendChild(input); composer.appendChild(fileLabel); composer.appendChild(file);
    composer.appendChild(send);
    composer.hidden = needsForm();
    var transcript = el("button", { type: "button", "class": "fdw-link" }, t("E-mail me the transcript"));
    [header, status, queue, list, typing, offline, form, composer, transcript].forEach(function (n) { panel.appendChild(n); });
    root.appendChild(panel); root.appendChild(launcher);
    document.body.appendChild(root);
    els = { root: root, launcher: launcher, panel: panel, list: list, input: input, status: status, queue: queue,
            typing: typing, form: form, offline: offline, composer: composer, file: file };
    setOnline(cfg.online);
    (state.outbox || []).forEach(pending);

    launcher.addEventListener("click", function () { toggle(panel.hidden); });
    close.addEventListener("click", function () { toggle(false); });
    panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
    composer.addEventListener("submit", function (e) { e.preventDefault(); submit(); });
    input.addEventListener("input", typingSignal);
    file.addEventListener("change", upload);
    transcript.addEventListener("click", askTranscript);
    document.addEventListener("visibilitychange", markRead);
    window.addEventListener("online", function () { if (wantSocket) connect(); });
    if (sessionStorage.getItem(KEY + ":open") === "1") toggle(true);
    if (cfg.calls && cfg.calls.enabled && window.RTCPeerConnection) loadCalls();
  }

  // Calls load their two scripts only where the inbox allows them.
  function loadCalls() {
    var scripts = ["/widget-rtc.js", "/widget-call.js"], left = scripts.length;
    scripts.forEach(function (path) {
      var s = el("script", { src: HOST + path, async: "" });
      s.async = false;  // in order: the call UI needs the peer code
      s.onload = function () {
        if (--left) return;
        calls = window.FrontdeskWidgetCall;
        calls.init({
          cfg: cfg, t: t, el: el, panel: els.panel, list: els.list, newId: newId,
          send: function (frame) {
            if (!socket || socket.readyState !== 1) return false;
            socket.send(JSON.stringify(frame)); return true;
          }
        });
      };
      document.head.appendChild(s);
    });
  }

  function prechatForm() {
    var form = el("form", { "class": "fdw-prechat" });
    var fields = {};
    cfg.prechat.fields.forEach(function (name) {
      var id = "fdw-pre-" + name;
      var label = name === "email" ? t("Your e-mail") : t("Your name");
      form.appendChild(el("label", { "for": id }, label));
      var attrs = { id: id, name: name, type: name === "email" ? "email" : "text", "class": "fdw-input" };
      if (cfg.prechat.required.indexOf(name) >= 0) attrs.required = "required";
      fields[name] = form.appendChild(el("input", attrs));
    });
    form.appendChild(el("button", { type: "submit", "class": "fdw-send" }, t("Start chat")));
    form.hidden = !needsForm();
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var extra = {};
      for (var name in fields) if (fields[name].value) extra[name] = fields[name].value;
      session(extra);
    });
    return form;
  }

  function offlineForm() {
    var form = el("form", { "class": "fdw-offline" });
    form.appendChild(el("p", {}, t("No agent is online right now. Leave your e-mail and we will answer by e-mail.")));
    form.appendChild(el("label", { "for": "fdw-offline-email" }, t("Your e-mail")));
    var email = form.appendChild(el("input", {
      id: "fdw-offline-email", type: "email", required: "required", "class": "fdw-input",
      "data-testid": "fd-widget-email"
    }));
    form.appendChild(el("button", { type: "submit", "class": "fdw-send" }, t("Continue by e-mail")));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = els.input.value; els.input.value = "";
      post("/widget/api/email", { token: state.token, email: email.value, text: text, id: newId() })
        .then(function (data) {
          render(data.message);
          notice(t("We will reply to {email}.").replace("{email}", data.email));
          state.email = data.email; save();
        }).catch(handle);
    });
    return form;
  }

  function setOnline(online) {
    if (els.offline) els.offline.hidden = !!online || !!state.email;
  }

  function toggle(open) {
    els.panel.hidden = !open;
    els.launcher.setAttribute("aria-expanded", String(open));
    els.launcher.textContent = open ? t("Close chat") : t("Open chat");
    sessionStorage.setItem(KEY + ":open", open ? "1" : "0");
    if (open) { (needsForm() ? els.form.querySelector("input") : els.input).focus(); markRead(); }
    else els.launcher.focus();
  }

  function notice(text) { els.status.textContent = text || sticky || ""; }

  function connect() {
    if (!state.token) return;
    wantSocket = true;
    clearTimeout(retryTimer);
    if (socket && socket.readyState <= 1) return;
    var url = HOST.replace(/^http/, "ws") + "/widget/ws?token=" + encodeURIComponent(state.token) +
      "&since=" + since;
    var ws = socket = new WebSocket(url);
    ws.onopen = function () {
      retry = 0; notice("");
      (state.outbox || []).forEach(function (item) { transmit(item); });
    };
    ws.onmessage = function (e) { receive(JSON.parse(e.data)); };
    ws.onclose = function (e) {
      if (socket === ws) socket = null;
      if (calls) calls.gone();  // the server ends a call whose socket closed
      if (!wantSocket) return;
      if (e.code === 4440 || e.code === 4401) { restart(); return; }
      if ((state.outbox || []).length) notice(t("Offline: your messages will be sent when the connection is back."));
      retry = Math.min(retry + 1, 6);
      retryTimer = setTimeout(connect, Math.min(10000, 250 * Math.pow(2, retry)));
    };
  }

  function disconnect() {
    wantSocket = false; clearTimeout(retryTimer);
    if (socket) { var ws = socket; socket = null; ws.close(); }
  }

  function transmit(item) {
    if (socket && socket.readyState === 1) socket.send(JSON.stringify({ type: "message", id: item.id, text: item.text }));
  }

  function submit() {
    var text = els.input.value.trim();
    if (!text) return;
    sticky = "";
    els.input.value = "";
    dropChoices();
    var item = { id: newId(), text: text };
    state.outbox = (state.outbox || []).concat([item]); save();
    pending(item);
    transmit(item);
    if (!socket || socket.readyState !== 1) notice(t("Offline: your messages will be sent when the connection is back."));
  }

  function pending(item) {
    var li = el("li", { "class": "fdw-msg fdw-visitor fdw-pending", "data-testid": "fd-widget-message", "data-client-id": item.id, dir: "auto" });
    li.appendChild(el("span", { "class": "fdw-text" }, item.text));
    li.appendChild(el("span", { "class": "fdw-meta" }, t("Sending…")));
    els.list.appendChild(li);
    scroll();
  }

  function receive(frame) {
    if (frame.type === "call" || frame.type === "rtc" || (frame.type === "error" && frame.call)) {
      if (frame.message) render(frame.message);
      if (calls) calls.receive(frame);
      return;
    }
    if (frame.type === "hello") {
      setOnline(frame.online);
      if (frame.token) { state.token = frame.token; save(); }  // sliding expiry
    }
    else if (frame.type === "message") render(frame.message);
    else if (frame.type === "ack") {
      state.outbox = (state.outbox || []).filter(function (i) { return i.id !== frame.id; }); save();
      render(frame.message);
      if (!(state.outbox || []).length) notice("");
    } else if (frame.type === "status") setStatus(frame.id, frame.status);
    else if (frame.type === "typing") showTyping(frame.on);
    else if (frame.type === "queue") showPlace(frame.position, frame.wait_minutes);
    else if (frame.type === "error") {
      if (frame.id && frame.retry) {
        // Not stored yet (server busy): send the same id again shortly; stored once either way.
        setTimeout(function () {
          (state.outbox || []).forEach(function (i) { if (i.id === frame.id) transmit(i); });
        }, 2000);
        return;
      }
      if (frame.id) state.outbox = (state.outbox || []).filter(function (i) { return i.id !== frame.id; });
      save();
      notice(frame.code === "not_storable"
        ? t("This message could not be stored. Please write it differently and send it again.")
        : frame.message);
    }
  }

  function render(m) {
    if (shown[m.id]) { setStatus(m.id, m.status); return; }
    var li = m.client_id && els.list.querySelector('[data-client-id="' + CSS.escape(m.client_id) + '"]');
    if (!li) {
      li = el("li", { "data-testid": "fd-widget-message", dir: "auto" });
      els.list.appendChild(li);
    }
    dropChoices();  // choices answer only the newest message (also after a reload's replay)
    li.textContent = "";
    li.className = "fdw-msg " + (m.direction === "inbound" ? "fdw-visitor" : "fdw-agent");
    li.setAttribute("data-id", m.id);
    if (m.author_name) li.appendChild(el("span", { "class": "fdw-author" }, m.author_name));
    if (m.text) li.appendChild(el("span", { "class": "fdw-text" }, m.text));
    if (m.call) li.appendChild(el("span", { "class": "fdw-text fdw-call-line", "data-testid": "fd-widget-call-line", "data-status": m.call.status }, callLine(m.call)));
    (m.attachments || []).forEach(function (a) {
      var href = HOST + a.url;
      var link = el("a", { href: href, "class": "fdw-file-link", rel: "noopener", target: "_blank", "data-testid": "fd-widget-file", dir: "auto" });
      // Safe raster images get a preview (served inline); everything else is a download link.
      if (IMAGES.indexOf(a.type) >= 0) link.appendChild(el("img", { src: href, alt: a.name, "class": "fdw-preview" }));
      else link.textContent = a.name;
      li.appendChild(link);
    });
    if (m.survey) li.appendChild(surveyCard(m.survey));
    li.appendChild(el("span", { "class": "fdw-meta" }, m.direction === "outbound" ? "" : (m.status === "read" ? t("Seen") : "")));
    if (m.direction === "outbound" && (m.buttons || []).length) choices(li, m.buttons);
    shown[m.id] = li;
    since = Math.max(since, m.id);
    if (m.direction === "outbound") { showTyping(false); markRead(); }
    scroll();
  }

  // A survey asked in the chat: one button per score; the answer goes to /surveys/answer
  // with the survey's signed token (the server takes one answer per survey).
  function surveyCard(sv) {
    var card = el("div", { "class": "fdw-survey", "data-testid": "fd-survey-card", "data-survey-id": sv.id, dir: sv.dir || "auto" });
    var row = el("div", { "class": "fdw-survey-scale", role: "group", "aria-label": sv.question });
    var note = el("p", { "class": "fdw-survey-note", role: "status" });
    (sv.labels || []).forEach(function (label, i) {
      var score = sv.low + i;
      var button = el("button", { type: "button", "class": "fdw-survey-score", "data-testid": "fd-survey-score", "data-score": String(score) }, label);
      button.addEventListener("click", function () {
        var all = row.querySelectorAll("button");
        for (var k = 0; k < all.length; k++) all[k].disabled = true;
        post("/surveys/answer", { token: sv.token, score: score }).then(function () {
          button.setAttribute("aria-pressed", "true");
          card.setAttribute("data-answered", String(score));
          note.textContent = sv.thanks;
        }).catch(function (err) {
          if (err.code === "answered") card.setAttribute("data-answered", "");
          note.textContent = err.message;
        });
      });
      row.appendChild(button);
    });
    card.appendChild(row);
    if (sv.answered != null) {  // answered before (this page, another tab, a reload)
      var buttons = row.querySelectorAll("button");
      for (var b = 0; b < buttons.length; b++) {
        buttons[b].disabled = true;
        if (buttons[b].getAttribute("data-score") === String(sv.answered)) buttons[b].setAttribute("aria-pressed", "true");
      }
      card.setAttribute("data-answered", String(sv.answered));
      note.textContent = sv.thanks;
    }
    if (sv.ends) card.appendChild(el("p", { "class": "fdw-survey-ends" }, (sv.labels[0] || "") + " = " + sv.ends[0] + " · " + (sv.labels[sv.labels.length - 1] || "") + " = " + sv.ends[1]));
    card.appendChild(note);
    return card;
  }

  function dropChoices() {
    Array.prototype.forEach.call(els.list.querySelectorAll(".fdw-choices"), function (n) { n.parentNode.removeChild(n); });
  }

  // The bot's "did that help?": a press sends the button's title as the visitor's answer.
  function choices(li, buttons) {
    var box = el("div", { "class": "fdw-choices", role: "group" });
    buttons.forEach(function (b) {
      var button = el("button", { type: "button", "class": "fdw-choice", "data-testid": "fd-widget-choice", "data-choice": b.id }, b.title);
      button.addEventListener("click", function () { els.input.value = b.title; submit(); });
      box.appendChild(button);
    });
    li.appendChild(box);
  }

  function setStatus(id, status) {
    var li = shown[id];
    if (!li || !li.classList.contains("fdw-visitor")) return;
    var meta = li.querySelector(".fdw-meta");
    if (meta) meta.textContent = status === "read" ? t("Seen") : "";
  }

  function markRead() {
    if (!els.panel || els.panel.hidden || document.visibilityState !== "visible") return;
    var up = 0;
    for (var id in shown) if (shown[id].classList.contains("fdw-agent")) up = Math.max(up, Number(id));
    if (up > readUpTo && socket && socket.readyState === 1) {
      readUpTo = up;
      socket.send(JSON.stringify({ type: "read", up_to: up }));
    }
  }

  // Digits as the widget's language writes them (as the server's kit/i18n does).
  var DIGITS = { ar: "٠١٢٣٤٥٦٧٨٩", fa: "۰۱۲۳۴۵۶۷۸۹" };
  function digits(n) {
    var table = DIGITS[cfg.language];
    var text = String(n);
    return table ? text.replace(/[0-9]/g, function (d) { return table[Number(d)]; }) : text;
  }

  // The visitor's place while their chat waits for an agent (null: no longer waiting).
  function showPlace(position, minutes) {
    var box = els.queue;
    if (position == null) {
      box.hidden = true; box.textContent = "";
      box.removeAttribute("data-position"); box.removeAttribute("data-wait");
      return;
    }
    var text = minutes == null ? t("You are number {position} in the queue.")
      : minutes === 1 ? t("You are number {position} in the queue — expected wait about a minute.")
      : t("You are number {position} in the queue — expected wait about {minutes} minutes.");
    box.textContent = text.replace("{position}", digits(position)).replace("{minutes}", digits(minutes));
    box.setAttribute("data-position", String(position));
    box.setAttribute("data-wait", minutes == null ? "" : String(minutes));
    box.hidden = false;
  }

  function showTyping(on) {
    clearTimeout(typingTimer);
    els.typing.hidden = !on;
    els.typing.textContent = on ? t("Agent is typing…") : "";
    if (on) typingTimer = setTimeout(function () { showTyping(false); }, 5000);
  }

  function typingSignal() {
    var now = Date.now();
    if (now - lastTyping < 2000 || !socket || socket.readyState !== 1) return;
    lastTyping = now;
    socket.send(JSON.stringify({ type: "typing", on: true }));
  }

  function upload() {
    var f = els.file.files[0];
    if (!f) return;
    // Checked here for a quick answer; the server checks the same limits again.
    var refusal = cfg.upload.types.indexOf(f.type) < 0
      ? t("{name}: files of this type are not accepted.")
      : (f.size > cfg.upload.max_bytes ? t("{name}: the file is too large (at most {size}).") : "");
    if (refusal) {
      els.file.value = "";
      notice(refusal.replace("{name}", f.name).replace("{size}", megabytes(cfg.upload.max_bytes)));
      return;
    }
    var data = new FormData();
    data.append("token", state.token); data.append("id", newId()); data.append("file", f);
    fetch(HOST + "/widget/api/upload", { method: "POST", body: data })
      .then(function (r) { return r.json().then(function (d) { if (!r.ok) throw failure(r, d); return d; }); })
      .then(function (d) { render(d.message); els.file.value = ""; })
      .catch(function (err) { els.file.value = ""; handle(err); });
  }

  function megabytes(bytes) {
    var mb = bytes / (1024 * 1024);
    var n = mb >= 1 ? (Math.round(mb * 10) / 10) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
    try { return n.replace(/[\d.]+/, function (d) { return Number(d).toLocaleString(cfg.language); }); } catch (e) { return n; }
  }

  // Transcripts go only to the visitor's own address (the one given before): without one,
  // the e-mail form asks for it first.
  function askTranscript() {
    post("/widget/api/transcript", { token: state.token, email: state.email || null, id: newId() })
      .then(function (d) { notice(t("Transcript on its way to {email}.").replace("{email}", d.email)); })
      .catch(function (err) {
        if (err.code === "email_required" || err.code === "not_your_address") {
          els.offline.hidden = false; els.offline.querySelector("input").focus(); return;
        }
        handle(err);
      });
  }

  function callLine(c) {
    var what = c.media === "video" ? t("Video call") : t("Audio call");
    var status = { ringing: t("Ringing"), answered: t("Answered"), missed: t("Missed"), ended: t("Ended") }[c.status] || "";
    var line = "☎ " + what + (status ? " · " + status : "");
    if (c.duration_seconds != null) {
      var s = c.duration_seconds, pad = s % 60 < 10 ? "0" : "";
      line += " · " + Math.floor(s / 60) + ":" + pad + (s % 60);
    }
    return line;
  }

  function scroll() { els.list.scrollTop = els.list.scrollHeight; }

  window.FrontdeskWidget = {
    connect: connect, disconnect: disconnect,
    open: function () { toggle(true); },
    state: function () { return { connected: !!(socket && socket.readyState === 1), outbox: (state.outbox || []).length }; }
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
