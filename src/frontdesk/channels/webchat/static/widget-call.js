/* Frontdesk chat widget: audio and video calls with the agent (loaded by widget.js when the
   inbox allows calls; needs widget-rtc.js). The visitor starts the call; signals go over the
   widget's socket. Text is only ever inserted with textContent. */
(function () {
  "use strict";
  if (window.FrontdeskWidgetCall) return;
  var api = null, call = null, els = {}, t = function (s) { return s; };
  // Why a call ended or never connected (the server and the desk use the same codes).
  var REASONS = {
    hangup: "The call has ended.",
    declined: "The call was declined.",
    cancelled: "The call was cancelled.",
    no_answer: "Nobody answered the call.",
    peer_offline: "The other side went offline.",
    connection_failed: "The call could not connect: the network between you blocks it.",
    permission_denied: "The camera or microphone could not be used (permission denied).",
    taken: "Another agent answered this call.",
    unsupported: "This browser cannot make calls.",
    no_agent_online: "No agent is online to take a call right now.",
    calls_disabled: "Calls are not available in this chat."
  };
  var RING_SECONDS = 60;

  function init(a) {
    api = a; t = a.t;
    var el = a.el;
    var bar = el("div", { "class": "fdw-callbar", role: "group", "aria-label": t("Call us") });
    var audio = el("button", { type: "button", "class": "fdw-callbtn", "data-testid": "fd-widget-call-audio" }, t("Audio call"));
    var video = el("button", { type: "button", "class": "fdw-callbtn", "data-testid": "fd-widget-call-video" }, t("Video call"));
    bar.appendChild(audio); bar.appendChild(video);
    var box = el("div", { "class": "fdw-call", "data-testid": "fd-widget-call", "data-state": "idle" });
    box.hidden = true;
    var status = el("p", { "class": "fdw-call-status", role: "status", "aria-live": "polite", "data-testid": "fd-widget-call-status" });
    var notice = el("p", { "class": "fdw-call-notice", "data-testid": "fd-widget-call-notice" }, t("This call is recorded. Staying on the call means you agree to the recording."));
    notice.hidden = true;
    var sharing = el("p", { "class": "fdw-call-sharing", "data-testid": "fd-widget-call-sharing" }, t("The agent is sharing their screen."));
    sharing.hidden = true;
    var remote = el("video", { "class": "fdw-remote", autoplay: "", playsinline: "", "data-testid": "fd-widget-remote-video", "aria-label": t("The agent's video") });
    var local = el("video", { "class": "fdw-local", autoplay: "", playsinline: "", "aria-label": t("Your video") });
    local.muted = true;
    var controls = el("div", { "class": "fdw-call-controls" });
    var take = el("button", { type: "button", "class": "fdw-callbtn", "data-testid": "fd-widget-call-accept" }, t("Accept call"));
    var refuse = el("button", { type: "button", "class": "fdw-callbtn", "data-testid": "fd-widget-call-decline" }, t("Decline"));
    var share = el("button", { type: "button", "class": "fdw-callbtn", "data-testid": "fd-widget-share" }, t("Share screen"));
    var hang = el("button", { type: "button", "class": "fdw-callbtn fdw-hangup", "data-testid": "fd-widget-hangup" }, t("Hang up"));
    controls.appendChild(take); controls.appendChild(refuse);
    controls.appendChild(share); controls.appendChild(hang);
    [status, notice, sharing, remote, local, controls].forEach(function (n) { box.appendChild(n); });
    a.panel.insertBefore(bar, a.list);
    a.panel.insertBefore(box, a.list);
    els = { bar: bar, box: box, status: status, notice: notice, sharing: sharing, remote: remote,
            local: local, share: share, hang: hang, audio: audio, video: video, controls: controls,
            take: take, refuse: refuse };
    take.addEventListener("click", acceptIncoming);
    refuse.addEventListener("click", function () { hangup("declined"); });
    audio.addEventListener("click", function () { start("audio"); });
    video.addEventListener("click", function () { start("video"); });
    hang.addEventListener("click", function () { hangup(call && call.id && call.peer ? "hangup" : "cancelled"); });
    share.addEventListener("click", toggleShare);
    setIdle();
  }

  function setIdle() {
    els.audio.disabled = els.video.disabled = false;
    els.controls.hidden = true;
    els.take.hidden = els.refuse.hidden = true;
    els.hang.hidden = false;
  }

  // The agent calls the visitor: Accept or Decline.
  function incoming(frame) {
    var data = frame.data;
    call = { id: frame.call_id, media: data.media, incoming: true, agent: frame.agent_name || "", peer: null };
    els.audio.disabled = els.video.disabled = true;
    els.controls.hidden = false;
    els.take.hidden = els.refuse.hidden = false;
    els.hang.hidden = true; els.share.hidden = true;
    els.box.removeAttribute("data-reason");
    els.remote.hidden = els.local.hidden = data.media !== "video";
    els.notice.hidden = !data.recorded;
    var line = data.media === "video" ? t("{name} is calling you (video).") : t("{name} is calling you (audio).");
    say(line.replace("{name}", call.agent), "incoming");
  }

  function acceptIncoming() {
    if (!call || !call.incoming || call.peer) return;
    var mine = call;
    els.take.hidden = els.refuse.hidden = true; els.hang.hidden = false;
    say(t("Connecting…"), "connecting");
    mine.media$ = window.FrontdeskRTC.getMedia(mine.media);
    mine.media$.then(function (stream) {
      if (call !== mine) { stream.getTracks().forEach(function (tr) { tr.stop(); }); return; }
      mine.stream = stream; els.local.srcObject = stream;
      mine.peer = newPeer(mine);
      mine.peer.attach(stream);
      signal({ kind: "accept" });  // the agent's page sends the offer now
    }, function (err) { if (call === mine) hangup(err.reason || "permission_denied"); });
  }

  function newPeer(mine) {
    return new window.FrontdeskRTC.Peer({
      iceServers: api.cfg.calls.ice_servers,
      send: signal,
      onRemote: function (s) { if (els.remote.srcObject !== s) els.remote.srcObject = s; },
      onState: function (state, reason) {
        if (call !== mine) return;
        if (state === "connected") {
          say(mine.agent ? t("Connected with {name}").replace("{name}", mine.agent) : t("Connected"), "connected");
          els.share.hidden = !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
        } else if (state === "failed") hangup(reason);
      }
    });
  }

  function say(text, state, reason) {
    els.box.hidden = false;
    els.status.textContent = text;
    if (state) els.box.setAttribute("data-state", state);
    if (reason) els.box.setAttribute("data-reason", reason);
  }

  function start(media) {
    if (call) return;
    call = { media: media, clientId: api.newId(), id: null, peer: null, screen: false };
    els.audio.disabled = els.video.disabled = true;
    els.controls.hidden = false;
    els.share.hidden = true;
    els.box.removeAttribute("data-reason");
    els.remote.hidden = els.local.hidden = media !== "video";
    els.notice.hidden = !api.cfg.calls.recorded;
    say(t("Calling…"), "calling");
    var mine = call;
    mine.media$ = window.FrontdeskRTC.getMedia(media).then(function (stream) {
      if (call !== mine) { stream.getTracks().forEach(function (tr) { tr.stop(); }); return null; }
      mine.stream = stream;
      els.local.srcObject = stream;
      return stream;
    });
    mine.media$.catch(function (err) { if (call === mine) hangup(err.reason || "permission_denied"); });
    if (!api.send({ type: "call", id: call.clientId, media: media })) end("peer_offline");
  }

  function receive(frame) {
    if (!call && frame.type === "rtc" && frame.data && frame.data.kind === "ring") { incoming(frame); return; }
    if (!call) return;
    if (frame.type === "call" && frame.id === call.clientId) {
      call.id = frame.call_id;
      if (frame.recorded) els.notice.hidden = false;
      if (call.ending) { signal({ kind: "fail", reason: call.ending }); end(call.ending); return; }
      say(t("Ringing…"), "ringing");
      call.ring = setTimeout(function () { hangup("no_answer"); }, RING_SECONDS * 1000);
    } else if (frame.type === "error" && frame.id === call.clientId) {
      end(REASONS[frame.code] ? frame.code : "unsupported", frame.message);
    } else if (frame.type === "rtc" && frame.call_id === call.id) {
      handle(frame.data, frame.agent_name);
    }
  }

  function handle(data, name) {
    var mine = call;
    if (data.kind === "accept") {
      clearTimeout(call.ring);
      call.agent = name || "";
      say(t("Connecting…"), "connecting");
      call.media$.then(function (stream) {
        if (!stream || call !== mine) return;
        mine.peer = newPeer(mine);
        mine.peer.attach(stream);
        return mine.peer.offer();
      }).catch(function () { if (call === mine) hangup("connection_failed"); });
    } else if (data.kind === "screen") {
      els.sharing.hidden = !data.on;
      els.box.setAttribute("data-remote-screen", data.on ? "on" : "off");
    } else if (data.kind === "hangup" || data.kind === "decline" || data.kind === "fail") {
      end(data.reason || "hangup");
    } else if (call.peer) {
      call.peer.handle(data);
    }
  }

  function signal(data) {
    if (call && call.id) api.send({ type: "rtc", call_id: call.id, data: data });
  }

  function hangup(reason) {
    if (!call) return;
    if (!call.id) { call.ending = reason; say(t(REASONS[reason] || REASONS.hangup), "ending", reason); return; }
    var kind = reason === "declined" ? "decline" : (reason === "hangup" || reason === "cancelled" ? "hangup" : "fail");
    signal({ kind: kind, reason: reason });
    end(reason);
  }

  function end(reason, fallback) {
    if (!call) return;
    clearTimeout(call.ring);
    if (call.peer) call.peer.close();
    if (call.stream) call.stream.getTracks().forEach(function (tr) { tr.stop(); });
    call = null;
    els.remote.srcObject = null; els.local.srcObject = null;
    els.remote.hidden = els.local.hidden = true;
    els.sharing.hidden = true;
    els.share.textContent = t("Share screen");
    say(REASONS[reason] ? t(REASONS[reason]) : (fallback || t(REASONS.hangup)), "ended", reason);
    setIdle();
  }

  function toggleShare() {
    if (!call || !call.peer) return;
    var mine = call;
    if (mine.screen) {
      mine.peer.stopScreen(); mine.screen = false; els.share.textContent = t("Share screen");
      return;
    }
    mine.peer.shareScreen().then(function () {
      mine.screen = true; els.share.textContent = t("Stop sharing");
    }, function (err) { say(t(REASONS[err.reason] || REASONS.unsupported), null, err.reason); });
  }

  window.FrontdeskWidgetCall = {
    init: init, receive: receive,
    // For tests and the page: the call in progress.
    state: function () {
      return call ? { id: call.id, media: call.media, connected: !!(call.peer && call.peer.connected) } : null;
    },
    received: function () { return call && call.peer ? call.peer.received() : Promise.resolve(0); },
    gone: function () { if (call) end("peer_offline"); }
  };
})();
