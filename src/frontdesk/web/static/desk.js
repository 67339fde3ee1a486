/* Agent desktop: live updates from /api/v1/events?since=N (replay on reconnect, so the page
   is exactly up to date), collision signals over /desk/ws, keyboard navigation, canned
   responses, the three-pane workspace (a conversation opens beside the list), bulk
   selection, the shortcut sheet, the tab title's unread count and browser notifications.
   Server-rendered HTML only: this file never builds markup from message text. */
(function () {
  "use strict";
  var body = document.body;
  var page = body.getAttribute("data-page");
  var conversationId = Number(body.getAttribute("data-conversation-id") || 0);
  var customerId = Number(body.getAttribute("data-customer-id") || 0);
  var since = Number(body.getAttribute("data-since") || 0);
  if (!body.getAttribute("data-agent-id")) return;
  var wsBase = location.origin.replace(/^http/, "ws");
  var me = body.getAttribute("data-agent-id");
  var baseTitle = document.title, unread = 0;
  var refreshTimer = null, retry = 0, desk = null;

  function refresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      if (window.htmx) htmx.trigger(body, "fd:refresh");
    }, 120);
  }

  function live(on) {
    var badge = document.getElementById("fd-live");
    if (!badge) return;
    badge.textContent = badge.getAttribute(on ? "data-online" : "data-offline");
    badge.classList.toggle("down", !on);
  }

  function relevant(event) {
    if (page === "inbox") return true;
    if (page === "conversation") {
      return event.conversation_id === conversationId || event.customer_id === customerId;
    }
    if (page === "work") return String(event.type || "").indexOf("task.") === 0;
    if (page === "supervisor") {
      return event.type === "presence.changed" || String(event.type || "").indexOf("task.") === 0;
    }
    return page === "customer" && event.customer_id === customerId;
  }

  // A task offered to this agent (task.offered names them): a banner with Accept / Reject
  // and a countdown; the server-rendered banner is filled with text only.
  var offerTimer = null, offeredTask = 0;
  function hideOffer() {
    var banner = document.getElementById("fd-offer");
    if (banner) banner.hidden = true;
    clearInterval(offerTimer); offeredTask = 0;
  }
  function showOffer(p) {
    var banner = document.getElementById("fd-offer");
    if (!banner) return;
    var ends = Date.parse(p.expires_at || "");
    if (isNaN(ends) || ends <= Date.now()) return;
    offeredTask = Number(p.task_id);
    document.getElementById("fd-offer-what").textContent = (p.type || "") + (p.channel ? " · " + p.channel : "");
    Array.prototype.forEach.call(banner.querySelectorAll("form[data-offer-action]"), function (f) {
      f.action = "/work/tasks/" + offeredTask + "/" + f.getAttribute("data-offer-action");
    });
    var left = document.getElementById("fd-offer-left");
    var lang = document.documentElement.lang || "en";
    var tick = function () {
      var seconds = Math.ceil((ends - Date.now()) / 1000);
      if (seconds <= 0) { hideOffer(); return; }
      left.textContent = banner.getAttribute("data-left").replace("{seconds}", seconds.toLocaleString(lang));
    };
    clearInterval(offerTimer);
    tick();
    banner.hidden = false;
    offerTimer = setInterval(tick, 1000);
  }
  function offers(event) {
    var p = event.payload || {};
    var mine = String(p.agent_id) === body.getAttribute("data-agent-id");
    if (event.type === "task.offered" && mine) showOffer(p);
    else if (offeredTask && Number(p.task_id) === offeredTask && event.type !== "task.offered") hideOffer();
  }

  // Screen pop (call.screen_pop names this agent: their extension rings): the caller's
  // customer, rendered by the server, fills the pop; the server checks what it shows.
  function screenPop(event) {
    var p = event.payload || {};
    if (String(p.agent_id) !== body.getAttribute("data-agent-id")) return;
    var pop = document.getElementById("fd-pop");
    if (!pop) return;
    fetch("/desk/pop/" + Number(p.message_id), { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : "";
    }).then(function (html) {
      if (!html) return;
      document.getElementById("fd-pop-body").innerHTML = html;
      pop.hidden = false;
      pop.setAttribute("data-message-id", String(p.message_id));
    });
  }
  var popClose = document.getElementById("fd-pop-close");
  if (popClose) popClose.addEventListener("click", function () { document.getElementById("fd-pop").hidden = true; });

  // This agent's presence changed (by them elsewhere, an admin, or the presence rule: busy
  // on a call, after-call work, back): the top bar's control shows it at once.
  function presenceChanged(event) {
    var p = event.payload || {};
    if (String(p.agent_id) !== me) return;
    var select = document.getElementById("fd-presence");
    if (select && p.status) select.value = String(p.status);
  }

  function events() {
    var ws = new WebSocket(wsBase + "/api/v1/events?since=" + since);
    ws.onopen = function () { retry = 0; live(true); };
    ws.onmessage = function (e) {
      var event = JSON.parse(e.data);
      if (event.sequence <= since) return;
      since = event.sequence;
      body.setAttribute("data-since", String(since));
      if (relevant(event)) refresh();
      // Other scripts (sla.js) read the same stream instead of opening a socket of their own.
      document.dispatchEvent(new CustomEvent("fd:event", { detail: event }));
      if (String(event.type || "").indexOf("task.") === 0) offers(event);
      if (event.type === "call.screen_pop") screenPop(event);
      if (event.type === "presence.changed") presenceChanged(event);
      // Mentions of this agent refresh the header badge (server-rendered, like everything).
      if (event.type === "note.mentioned" && event.payload && String(event.payload.agent_id) === body.getAttribute("data-agent-id")) {
        if (window.htmx) htmx.trigger(body, "fd:mentions");
      } else if (/^(conversation|message)\./.test(String(event.type || ""))) {
        unreadSoon();
      }
      notifyFor(event);
    };
    ws.onclose = function (e) {
      // 4401: the session ended (logout elsewhere, password change, deactivation).
      if (e.code === 4401) { location.href = "/login"; return; }
      live(false);
      retry = Math.min(retry + 1, 6);
      setTimeout(events, Math.min(10000, 250 * Math.pow(2, retry)));
    };
  }

  // Collision detection: who else is viewing or typing here (signals expire on their own).
  var viewers = {}, typers = {}, customerTyping = 0;
  function collision() {
    var box = document.getElementById("fd-collision");
    if (!box) return;
    var now = Date.now(), parts = [];
    var seeing = Object.keys(viewers).filter(function (n) { return viewers[n] > now; });
    var typing = Object.keys(typers).filter(function (n) { return typers[n] > now; });
    if (typing.length) parts.push(box.getAttribute("data-typing").replace("{names}", typing.join(", ")));
    if (seeing.length) parts.push(box.getAttribute("data-viewing").replace("{names}", seeing.join(", ")));
    if (customerTyping > now) parts.push(box.getAttribute("data-customer-typing"));
    box.textContent = parts.join(" · ");
  }

  function deskSocket() {
    var ws = desk = new WebSocket(wsBase + "/desk/ws");
    ws.onopen = function () { announce("viewing"); };
    ws.onmessage = function (e) {
      var s = JSON.parse(e.data);
      // Browser calls' signals (call.js listens; the server scoped them to this agent).
      if (s.type === "rtc" || s.type === "call") { document.dispatchEvent(new CustomEvent("fd:rtc", { detail: s })); return; }
      if (s.conversation_id !== conversationId && !(s.who === "customer" && s.customer_id === customerId)) return;
      if (s.who === "customer") customerTyping = Date.now() + 5000;
      else if (s.type === "viewing") viewers[s.agent_name] = Date.now() + 12000;
      else if (s.type === "typing") { typers[s.agent_name] = Date.now() + 5000; viewers[s.agent_name] = Date.now() + 12000; }
      collision();
    };
    ws.onclose = function (e) {
      desk = null;
      if (e.code === 4401) { location.href = "/login"; return; }
      setTimeout(deskSocket, 3000);
    };
  }

  function announce(type, target) {
    if (!desk || desk.readyState !== 1) return;
    if (conversationId) desk.send(JSON.stringify({ type: type, conversation_id: conversationId, target: target || "reply" }));
    else desk.send(JSON.stringify({ type: "heartbeat" }));
  }

  var lastTyping = 0;
  document.addEventListener("input", function (e) {
    var target = e.target.getAttribute && e.target.getAttribute("data-typing");
    if (!target || Date.now() - lastTyping < 1500) return;
    lastTyping = Date.now();
    announce("typing", target);
  });

  // Agent assist: "Insert" puts the article's text (in the customer's language) into the reply.
  document.addEventListener("click", function (e) {
    var t = e.target.closest && e.target.closest("[data-assist-target]");
    if (!t) return;
    var area = document.getElementById(t.getAttribute("data-assist-target"));
    if (!area) return;
    area.value = (area.value ? area.value + "\n\n" : "") + t.getAttribute("data-text");
    area.focus();
  });
  // Forms: selects that save on change; reply and note forms reset after htmx sends them.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.hasAttribute && t.hasAttribute("data-autosubmit")) t.form.submit();
    if (t.hasAttribute && t.hasAttribute("data-canned-target")) {
      var option = t.options[t.selectedIndex];
      var area = document.getElementById(t.getAttribute("data-canned-target"));
      if (option && option.value && area) {
        area.value = (area.value ? area.value + "\n" : "") + option.getAttribute("data-text");
        area.focus();
      }
      t.selectedIndex = 0;
    }
  });
  // The reply window (WhatsApp and the like): a countdown; once it closes, the inbox's
  // templates take the free-form box's place (the server refuses free-form replies anyway).
  var windowNote = null, windowTimer = null;
  var replyBox = null;
  // This conversation's own box was hidden (its window closed and no tag lets a reply go).
  var hereClosed = false;
  // "Reply on" stays visible when this conversation's box is hidden: picking another channel
  // shows the box for it, or that channel's templates when its window has closed too.
  function applyReplyOn() {
    var select = document.getElementById("fd-reply-channel");
    var value = select ? select.value : "";
    var option = select && select.selectedIndex >= 0 ? select.options[select.selectedIndex] : null;
    var templatesThere = !!(value && option && option.getAttribute("data-state") === "window_closed" &&
      option.getAttribute("data-rule") === "templates");
    var templateForm = document.getElementById("fd-template-form");
    if (replyBox) replyBox.hidden = value ? templatesThere : hereClosed;
    if (templateForm) templateForm.hidden = value ? true : !hereClosed;
    Array.prototype.forEach.call(document.querySelectorAll("[data-reply-on-templates]"), function (f) {
      f.hidden = !templatesThere || f.getAttribute("data-reply-on-templates") !== value;
    });
  }
  function closeWindow() {
    if (!windowNote) return;
    // The countdown stops here: its next tick (counting to the deadline the page was drawn
    // with) would otherwise write "… left" over "closed" a second later.
    clearInterval(windowTimer);
    windowNote.textContent = windowNote.getAttribute("data-closed");
    windowNote.setAttribute("data-state", "closed");
    // A message tag still lets a person answer (Messenger's HUMAN_AGENT): the box stays.
    if (windowNote.getAttribute("data-rule") === "tagged") return;
    hereClosed = true;
    if (replyBox) replyBox.setAttribute("data-closed-here", "1");
    applyReplyOn();
  }
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "fd-reply-channel") applyReplyOn();
  });
  function initWindow() {
    clearInterval(windowTimer);
    replyBox = document.getElementById("fd-reply-form");
    // Whether this conversation's own box is closed comes from the server (the box's hidden
    // attribute as rendered), kept on the box: a later re-init (any htmx swap settling) must
    // not read a box that "Reply on" hid as closed here.
    if (replyBox && !replyBox.hasAttribute("data-closed-here")) {
      replyBox.setAttribute("data-closed-here", replyBox.hidden ? "1" : "");
    }
    hereClosed = !!(replyBox && replyBox.getAttribute("data-closed-here"));
    // A page restored from the history keeps the choice made before: show what it needs.
    if (document.getElementById("fd-reply-channel")) applyReplyOn();
    windowNote = document.getElementById("fd-window");
    if (!windowNote) return;
    var closesAt = Date.parse(windowNote.getAttribute("data-closes-at") || "");
    // In the page's digits (Arabic-Indic, Persian), as the server wrote it.
    var lang = document.documentElement.lang || "en";
    var digits = function (n, width) {
      return n.toLocaleString(lang, { minimumIntegerDigits: width, useGrouping: false });
    };
    var tick = function () {
      var left = Math.floor(((isNaN(closesAt) ? 0 : closesAt) - Date.now()) / 1000);
      if (left <= 0) { closeWindow(); return false; }
      var time = digits(Math.floor(left / 3600), 1) + ":" + digits(Math.floor(left % 3600 / 60), 2) + ":" + digits(left % 60, 2);
      windowNote.textContent = windowNote.getAttribute("data-left").replace("{time}", time);
      windowNote.setAttribute("data-state", "open");
      return true;
    };
    if (tick()) {
      windowTimer = setInterval(function () { if (!tick()) clearInterval(windowTimer); }, 1000);
    }
  }
  initWindow();

  // The workspace: a conversation opened from the list replaces #fd-pane only (htmx, with
  // the URL pushed), so the list keeps its scroll, its filters and its selection.
  function paneChanged() {
    var pane = document.getElementById("fd-pane");
    var id = Number((pane && pane.getAttribute("data-conversation-id")) || 0);
    if (id === conversationId && pane && pane.getAttribute("data-seen")) return;
    if (pane) pane.setAttribute("data-seen", "1");
    conversationId = id;
    customerId = Number((pane && pane.getAttribute("data-customer-id")) || 0);
    body.setAttribute("data-conversation-id", String(conversationId || ""));
    var ws = document.getElementById("fd-workspace");
    if (ws) ws.classList.toggle("has-open", !!conversationId);
    Array.prototype.forEach.call(document.querySelectorAll("[data-testid=fd-conversation-row]"), function (li) {
      var here = Number(li.getAttribute("data-conversation-id")) === conversationId;
      li.classList.toggle("current", here);
      var link = li.querySelector(".row-link");
      if (link) { if (here) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current"); }
    });
    if (pane && pane.getAttribute("data-title")) baseTitle = pane.getAttribute("data-title");
    showUnread();
    viewers = {}; typers = {}; customerTyping = 0;
    initWindow();
    announce("viewing");
  }
  document.addEventListener("htmx:afterSettle", paneChanged);
  document.addEventListener("htmx:historyRestore", function () { baseTitle = document.title.replace(/^\(\S+\) /, ""); paneChanged(); });

  // The tab title counts what waits for the agent (unread mentions + their unanswered
  // conversations), read from the header badge's partial whenever it refreshes.
  var unreadTimer = null;
  function unreadSoon() {
    clearTimeout(unreadTimer);
    unreadTimer = setTimeout(function () { if (window.htmx) htmx.trigger(body, "fd:mentions"); }, 800);
  }
  function showUnread() {
    var holder = document.getElementById("fd-unread");
    if (holder) unread = Number(holder.getAttribute("data-count") || 0);
    var lang = document.documentElement.lang || "en";
    document.title = (unread > 0 ? "(" + unread.toLocaleString(lang) + ") " : "") + baseTitle;
  }

  // Browser notifications (and an optional sound) for what the agent chose in their
  // preferences: new conversations, mentions of them, conversations assigned to them.
  var wanted = (body.getAttribute("data-notify") || "").split(" ");
  function notifyFor(event) {
    var p = event.payload || {}, kind = null;
    if (event.type === "conversation.created") kind = "new";
    else if (event.type === "note.mentioned" && String(p.agent_id) === me && String(p.by) !== me) kind = "mentions";
    else if (event.type === "conversation.updated" && p.values && p.values.assignee_id &&
             String(p.values.assignee_id[1]) === me && String(p.by) !== me) kind = "assigned";
    if (!kind || wanted.indexOf(kind) < 0) return;
    var id = Number(p.conversation_id || event.conversation_id || 0);
    document.dispatchEvent(new CustomEvent("fd:notify", { detail: { kind: kind, conversation_id: id } }));
    FrontdeskNotify.show(body.getAttribute("data-notify-" + kind) || kind, id ? "#" + id.toLocaleString(document.documentElement.lang || "en") : "", id);
    if (body.getAttribute("data-sound") === "on") FrontdeskNotify.beep();
  }

  // Bulk selection: the bar says how many rows are ticked.
  document.addEventListener("change", function (e) {
    if (!e.target.classList || !e.target.classList.contains("pick")) return;
    var label = document.getElementById("fd-bulk-count");
    var count = document.querySelectorAll(".pick:checked").length;
    var bar = document.getElementById("fd-bulk");
    if (bar) bar.classList.toggle("active", count > 0);
    if (label && count) label.textContent = label.getAttribute("data-text").replace("{count}", count.toLocaleString(document.documentElement.lang || "en"));
  });

  // The shortcut sheet (? or the header's ? button).
  function keysSheet() {
    var sheet = document.getElementById("fd-keys");
    if (sheet && !sheet.open && sheet.showModal) sheet.showModal();
  }
  document.addEventListener("click", function (e) {
    if (e.target.closest && e.target.closest("[data-testid=fd-keys-open]")) keysSheet();
  });

  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (!form || form.tagName !== "FORM") return;
    if (e.detail.successful) { form.reset(); applyReplyOn(); refresh(); }
    else {
      // Refused on this conversation's own channel (not on another one picked in "Reply on").
      var replyOn = document.getElementById("fd-reply-channel");
      var here = !replyOn || !replyOn.value || form.id !== "fd-reply-form";
      if (here && e.detail.xhr && e.detail.xhr.responseText.indexOf("reply_window_closed") >= 0) {
        closeWindow();
        form = document.getElementById("fd-template-form") || form;
      }
      var note = form.querySelector(".form-error") || form.appendChild(document.createElement("p"));
      note.className = "form-error error"; note.setAttribute("role", "alert");
      note.textContent = e.detail.xhr ? e.detail.xhr.responseText : "error";
    }
  });

  // The top bar's menus (details.menu): one open at a time; a click elsewhere or Escape
  // closes them (Escape gives the focus back to the menu's button).
  var closeMenus = function (except) {
    document.querySelectorAll("header.top details.menu[open]").forEach(function (menu) {
      if (menu !== except) menu.removeAttribute("open");
    });
  };
  document.addEventListener("click", function (e) {
    closeMenus(e.target.closest ? e.target.closest("details.menu") : null);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var menu = e.target.closest ? e.target.closest("header.top details.menu[open]") : null;
    if (!menu) return;
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });

  // Keyboard: j/k or arrows move through the list, Enter opens, / searches, r replies.
  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || e.ctrlKey || e.metaKey || e.altKey) {
      if (e.key === "Escape" && e.target.blur) e.target.blur();
      return;
    }
    var focus = function (id) {
      var el = document.getElementById(id);
      if (el) { e.preventDefault(); el.focus(); }
    };
    if (document.getElementById("fd-keys") && document.getElementById("fd-keys").open) return;
    if (e.key === "?") {
      e.preventDefault(); keysSheet();
    } else if (e.key === "/") {
      focus("fd-q");
    } else if (e.key === "r") {
      focus("fd-reply");
    } else if (e.key === "n") {
      focus("fd-note");
    } else if (e.key === "m") {
      focus("fd-macro");
    } else if (e.key === "x" && document.activeElement && document.activeElement.classList.contains("row-link")) {
      var pick = document.activeElement.parentNode.querySelector(".pick");
      if (pick) { e.preventDefault(); pick.click(); }
    } else if (page === "inbox" && ["j", "k", "ArrowDown", "ArrowUp"].indexOf(e.key) >= 0) {
      var links = Array.prototype.slice.call(document.querySelectorAll(".row-link"));
      if (!links.length) return;
      e.preventDefault();
      var at = links.indexOf(document.activeElement);
      var next = (e.key === "j" || e.key === "ArrowDown") ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
      links[next].focus();
    }
  });

  window.FrontdeskDesk = {
    connected: function () { return !!(desk && desk.readyState === 1); },
    send: function (frame) {
      if (!desk || desk.readyState !== 1) return false;
      desk.send(JSON.stringify(frame)); return true;
    }
  };

  setInterval(function () { collision(); announce(conversationId ? "viewing" : "heartbeat"); }, 5000);
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.detail && e.detail.target && e.detail.target.id === "fd-mentions") showUnread();
  });
  events();
  deskSocket();
})();

// Browser notifications and their sound (WebAudio: no audio file to fetch), shared by the
// live stream above and the preferences page's buttons.
var FrontdeskNotify = (function () {
  "use strict";
  var audio = null;
  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      audio = audio || new Ctx();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.08;
      osc.connect(gain); gain.connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.18);
    } catch (err) { /* no sound: the notification still shows */ }
  }
  function show(title, text, conversationId) {
    if (!("Notification" in window) || Notification.permission !== "granted") return null;
    var shown = new Notification(title, { body: text, tag: "fd-" + (conversationId || title) });
    shown.onclick = function () { window.focus(); if (conversationId) location.href = "/conversations/" + conversationId; };
    return shown;
  }
  function state() {
    var note = document.getElementById("fd-notify-state");
    if (!note) return;
    var now = ("Notification" in window) ? Notification.permission : "denied";
    note.textContent = note.getAttribute("data-" + now) || "";
  }
  document.addEventListener("click", function (e) {
    var t = e.target.closest ? e.target : null;
    if (!t) return;
    if (t.closest("[data-notify-permission]") && "Notification" in window) {
      Notification.requestPermission().then(state);
    } else if (t.closest("[data-notify-test]")) {
      show(document.title, "Frontdesk", 0);
      var sound = document.querySelector("[data-testid=fd-prefs-sound]");
      if (sound && sound.checked) beep();
    }
  });
  if (document.readyState !== "loading") state(); else document.addEventListener("DOMContentLoaded", state);
  return { beep: beep, show: show };
})();

// Settings: copy buttons (data-copy names the field whose value is copied).
(function () {
  "use strict";
  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied") || label;
      setTimeout(function () { button.textContent = label; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () { field.select(); });
    } else {
      field.select();
      try { document.execCommand("copy"); done(); } catch (err) { /* selected for Ctrl+C */ }
    }
  });
})();
