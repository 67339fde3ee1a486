/* Agent desktop: browser calls with a widget visitor (WebRTC; peer code in /widget-rtc.js).
   The visitor's call rings here; Accept answers it, signals go over the desk socket
   (desk.js: FrontdeskDesk.send and the fd:rtc event). If the inbox records calls, this page
   records the visitor's video and both voices (MediaRecorder) and uploads numbered chunks
   that are retried until stored; hang-up asks the server to assemble them. */
(function () {
  "use strict";
  // The panel comes with a conversation pane that the workspace may swap in (htmx): scripts
  // inserted that way run in any order, so wait for the peer code (/widget-rtc.js) to load,
  // and start once per panel.
  function start(tries) {
    var panel = document.getElementById("fd-call-panel");
    if (!panel || panel.getAttribute("data-started")) return;
    if (!window.FrontdeskRTC) {
      if (tries < 200) setTimeout(function () { start(tries + 1); }, 50);
      return;
    }
    panel.setAttribute("data-started", "1");
    init(panel);
  }
  function init(panel) {
  var conversationId = Number(panel.getAttribute("data-conversation-id"));
  var csrf = panel.getAttribute("data-csrf");
  var ice = JSON.parse(panel.getAttribute("data-ice") || "[]");
  var $ = function (id) { return panel.querySelector("[data-testid=" + id + "]"); };
  var status = $("fd-call-panel-status"), notice = $("fd-call-panel-notice");
  var sharing = $("fd-call-panel-sharing"), remote = $("fd-call-remote-video");
  var local = $("fd-call-local-video"), accept = $("fd-call-accept"), decline = $("fd-call-decline");
  var share = $("fd-call-share"), hang = $("fd-call-hangup");
  var startAudio = $("fd-call-start-audio"), startVideo = $("fd-call-start-video");
  var videos = panel.querySelector(".call-videos");
  var call = null;  // { id, media, recorded, peer, stream, recorder }
  var text = function (name) { return panel.getAttribute("data-text-" + name) || ""; };
  var reasonText = function (r) { return text("reason-" + String(r || "hangup").replace(/_/g, "-")) || text("reason-hangup"); };

  function say(line, state, reason) {
    panel.hidden = false;
    status.textContent = line;
    if (state) panel.setAttribute("data-state", state);
    if (reason) panel.setAttribute("data-reason", reason); else panel.removeAttribute("data-reason");
  }
  function buttons(ringing, live) {
    startAudio.hidden = startVideo.hidden = ringing || live;
    videos.hidden = !(ringing || live);
    accept.hidden = decline.hidden = !ringing;
    hang.hidden = !live;
    share.hidden = !live || !(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  }
  function send(callId, data) {
    return window.FrontdeskDesk && FrontdeskDesk.send({ type: "rtc", conversation_id: conversationId, call_id: callId, data: data });
  }

  function ring(id, media, recorded) {
    if (call && call.id === id) return;
    if (call) return;  // on a call already: the timeline still shows the new one ringing
    call = { id: id, media: media, recorded: recorded, peer: null };
    notice.hidden = !recorded;
    sharing.hidden = true;
    remote.hidden = local.hidden = media !== "video";
    say(media === "video" ? text("ringing-video") : text("ringing-audio"), "ringing");
    buttons(true, false);
  }

  // The agent calls the visitor: the server stores the call and rings the widget; this page
  // offers once the visitor accepts.
  function place(media) {
    if (call) return;
    if (window.FrontdeskDesk) FrontdeskDesk.send({ type: "call", conversation_id: conversationId, media: media });
  }
  function placed(frame) {
    if (frame.error) { say(reasonText(frame.error === "calls_disabled" ? "unsupported" : frame.error), "ended", frame.error); return; }
    if (call) return;
    var mine = call = { id: frame.call_id, media: frame.media || pendingMedia, recorded: !!frame.recorded, peer: null, outgoing: true };
    notice.hidden = !mine.recorded;
    remote.hidden = local.hidden = mine.media !== "video";
    say(text("calling"), "calling");
    buttons(false, true);
    mine.media$ = FrontdeskRTC.getMedia(mine.media).then(function (stream) {
      if (call !== mine) { stream.getTracks().forEach(function (t) { t.stop(); }); return null; }
      mine.stream = stream; local.srcObject = stream;
      return stream;
    });
    mine.media$.catch(function (err) { if (call === mine) hangup(err.reason || "permission_denied"); });
  }
  function visitorAccepted() {
    var mine = call;
    say(text("connecting"), "connecting");
    mine.media$.then(function (stream) {
      if (!stream || call !== mine) return;
      mine.peer = newPeer(mine);
      mine.peer.attach(stream);
      return mine.peer.offer();
    }).catch(function () { if (call === mine) hangup("connection_failed"); });
  }

  function newPeer(mine) {
    return new FrontdeskRTC.Peer({
      iceServers: ice,
      send: function (data) { send(mine.id, data); },
      onRemote: function (s) { if (remote.srcObject !== s) remote.srcObject = s; },
      onState: function (state, reason) {
        if (call !== mine) return;
        if (state === "connected") { say(text("connected"), "connected"); if (mine.recorded) record(mine); }
        else if (state === "failed") hangup(reason);
      }
    });
  }

  function answer() {
    if (!call || call.peer) return;
    var mine = call;
    mine.peer = newPeer(mine);
    say(text("connecting"), "connecting");
    buttons(false, true);
    send(mine.id, { kind: "accept" });
    // Accepted first (so no other agent takes it), then the devices: a refusal ends the call
    // with a reason both sides see.
    mine.media$ = FrontdeskRTC.getMedia(mine.media).then(function (stream) {
      if (call !== mine) { stream.getTracks().forEach(function (t) { t.stop(); }); return null; }
      mine.stream = stream; local.srcObject = stream;
      mine.peer.attach(stream);
      return stream;
    });
    mine.media$.catch(function (err) { if (call === mine) hangup(err.reason || "permission_denied"); });
  }

  function handle(s) {
    var data = s.data || {};
    if (data.kind === "ring") { ring(s.call_id, data.media, !!data.recorded); return; }
    if (!call || s.call_id !== call.id) return;
    if (data.kind === "taken") { if (!call.peer && !call.outgoing) end("taken"); return; }
    if (data.kind === "accept" && call.outgoing && !call.peer) { visitorAccepted(); return; }
    if (data.kind === "hangup" || data.kind === "fail" || data.kind === "decline") { end(data.reason); return; }
    if (data.kind === "screen") { sharing.hidden = !data.on; return; }
    if (!call.peer) return;
    var mine = call;
    if (data.kind === "offer") {
      // The visitor's offer waits for this side's devices (tracks must be in the answer).
      mine.media$.then(function (stream) { if (stream && call === mine) mine.peer.handle(data); });
    } else mine.peer.handle(data);
  }

  function hangup(reason) {
    if (!call) return;
    send(call.id, { kind: reason === "hangup" ? "hangup" : "fail", reason: reason });
    end(reason);
  }

  function declineCall() {
    if (!call) return;
    send(call.id, { kind: "decline", reason: "declined" });
    var id = call.id; call = null;
    say(reasonText("declined"), "ended", "declined");
    buttons(false, false);
    // Others may still answer it: the ring comes back if this page is reloaded.
    panel.setAttribute("data-declined", String(id));
  }

  function end(reason) {
    if (!call) return;
    var mine = call; call = null;
    if (mine.recorder) mine.recorder.finish();
    if (mine.peer) mine.peer.close();
    if (mine.stream) mine.stream.getTracks().forEach(function (t) { t.stop(); });
    remote.srcObject = null; local.srcObject = null;
    sharing.hidden = true;
    $("fd-call-panel-recording").hidden = true;
    share.textContent = text("share");
    say(reasonText(reason), "ended", reason || "hangup");
    buttons(false, false);
  }

  // Recording: the visitor's video (video calls) with both voices mixed by an AudioContext.
  function record(mine) {
    if (!window.MediaRecorder || mine.recorder) return;
    var ctx = new (window.AudioContext || window.webkitAudioContext)();
    var mix = ctx.createMediaStreamDestination();
    [mine.stream, mine.peer.remote].forEach(function (s) {
      if (s && s.getAudioTracks().length) ctx.createMediaStreamSource(new MediaStream(s.getAudioTracks())).connect(mix);
    });
    var tracks = mix.stream.getAudioTracks();
    var video = mine.media === "video" ? mine.peer.remote.getVideoTracks()[0] : null;
    if (video) tracks = [video].concat(tracks);
    var type = video ? "video/webm;codecs=vp8,opus" : "audio/webm;codecs=opus";
    var recorder = new MediaRecorder(new MediaStream(tracks), { mimeType: type });
    var up = uploader(mine.id, video ? "video/webm" : "audio/webm");
    recorder.ondataavailable = function (e) { if (e.data && e.data.size) up.add(e.data); };
    recorder.onstop = function () { up.close(); ctx.close(); };
    recorder.start(1000);
    panel.setAttribute("data-recording", "on");
    $("fd-call-panel-recording").hidden = false;
    mine.recorder = {
      finish: function () { if (recorder.state !== "inactive") recorder.stop(); else up.close(); },
      uploader: up
    };
    recorders.push(up);
  }

  // Chunks go up in order, each PUT under its number until the server has it (a retry of a
  // stored chunk is answered 200 too); a chunk the server refuses for good is dropped.
  var recorders = [];
  function uploader(callId, contentType) {
    var queue = [], seq = 0, busy = false, closed = false, wait = 500;
    var state = { call_id: callId, sent: 0, pending: 0, failed: 0, done: false, recording: null };
    function pump() {
      if (busy) return;
      if (!queue.length) { if (closed && !state.done) finish(); return; }
      busy = true;
      var item = queue[0];
      fetch("/desk/calls/" + callId + "/recording/" + item.seq, {
        method: "PUT", credentials: "same-origin", body: item.blob,
        headers: { "Content-Type": contentType, "X-CSRF-Token": csrf }
      }).then(function (r) {
        if (r.ok || (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429)) {
          if (!r.ok) state.failed++; else state.sent++;
          queue.shift(); wait = 500;
        } else throw new Error(String(r.status));
      }).catch(function () {
        wait = Math.min(wait * 2, 10000);  // offline or server busy: the same chunk again
      }).then(function () {
        busy = false; state.pending = queue.length;
        setTimeout(pump, queue.length && wait > 500 ? wait : 0);
      });
    }
    function finish() {
      fetch("/desk/calls/" + callId + "/recording/finish", {
        method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf }
      }).then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (d) { state.done = true; state.recording = d.recording; panel.setAttribute("data-recording", "stored"); })
        .catch(function () { setTimeout(finish, 2000); });  // the server's idle job assembles it anyway
    }
    return {
      state: state,
      add: function (blob) { queue.push({ seq: seq++, blob: blob }); state.pending = queue.length; pump(); },
      close: function () { closed = true; pump(); }
    };
  }

  function toggleShare() {
    if (!call || !call.peer) return;
    var mine = call;
    if (mine.screen) { mine.peer.stopScreen(); mine.screen = false; share.textContent = text("share"); return; }
    mine.peer.shareScreen().then(function () { mine.screen = true; share.textContent = text("stop-share"); },
      function (err) { say(reasonText(err.reason || "unsupported"), null, err.reason); });
  }

  var pendingMedia = "video";
  startAudio.addEventListener("click", function () { pendingMedia = "audio"; place("audio"); });
  startVideo.addEventListener("click", function () { pendingMedia = "video"; place("video"); });
  accept.addEventListener("click", answer);
  decline.addEventListener("click", declineCall);
  hang.addEventListener("click", function () { hangup("hangup"); });
  share.addEventListener("click", toggleShare);
  document.addEventListener("fd:rtc", function (e) {
    var s = e.detail;
    if (s.conversation_id !== conversationId) return;
    if (s.type === "call") placed(s); else handle(s);
  });
  buttons(false, false);
  // A call that was already ringing when the page opened.
  var ringing = Number(panel.getAttribute("data-ringing") || 0);
  if (ringing) ring(ringing, panel.getAttribute("data-ringing-media"), panel.getAttribute("data-ringing-recorded") === "true");

  window.FrontdeskDeskCall = {
    state: function () { return call ? { id: call.id, connected: !!(call.peer && call.peer.connected) } : null; },
    received: function () { return call && call.peer ? call.peer.received() : Promise.resolve(0); },
    uploads: function () { return recorders.map(function (u) { return u.state; }); }
  };
  }
  start(0);
  // A conversation opened from the list arrives by htmx: its panel starts then.
  document.addEventListener("htmx:afterSettle", function () { start(0); });
})();
