/* Frontdesk browser calls: the peer connection both sides share (the widget's call UI and
   the desktop's). Media flows browser to browser; signals go through the caller's own socket
   via opts.send(data). Vanilla JS, no build step, no markup from data.
   new FrontdeskRTC.Peer({ iceServers, send, onRemote(stream), onState(state, reason) }) */
(function () {
  "use strict";
  if (window.FrontdeskRTC) return;

  // Why getUserMedia / getDisplayMedia refused, as a call-ending reason both sides can show.
  function mediaReason(err) {
    var name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError") return "permission_denied";
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "NotReadableError") return "permission_denied";
    return "unsupported";
  }

  function getMedia(media) {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.RTCPeerConnection) {
      var e = new Error("unsupported"); e.reason = "unsupported"; return Promise.reject(e);
    }
    return navigator.mediaDevices.getUserMedia({ audio: true, video: media === "video" })
      .catch(function (err) { err.reason = mediaReason(err); throw err; });
  }

  function Peer(opts) {
    this.opts = opts;
    this.local = null;
    this.screen = null;
    this.remote = new MediaStream();
    this.pending = [];  // ICE candidates that came before the remote description
    this.closed = false;
    this.connected = false;
    var self = this;
    var pc = this.pc = new RTCPeerConnection({ iceServers: opts.iceServers || [] });
    pc.onicecandidate = function (e) {
      if (e.candidate) opts.send({ kind: "ice", candidate: e.candidate.toJSON() });
    };
    pc.ontrack = function (e) {
      if (self.remote.getTracks().indexOf(e.track) < 0) self.remote.addTrack(e.track);
      opts.onRemote(self.remote, e.track);
    };
    pc.onconnectionstatechange = function () {
      if (self.closed) return;
      if (pc.connectionState === "connected" && !self.connected) {
        self.connected = true; opts.onState("connected");
      } else if (pc.connectionState === "failed") {
        opts.onState("failed", "connection_failed");
      }
    };
  }

  Peer.prototype.attach = function (stream) {
    var pc = this.pc;
    this.local = stream;
    stream.getTracks().forEach(function (track) { pc.addTrack(track, stream); });
  };

  Peer.prototype.offer = function () {
    var self = this, pc = this.pc;
    return pc.createOffer().then(function (offer) { return pc.setLocalDescription(offer); })
      .then(function () { self.opts.send({ kind: "offer", sdp: pc.localDescription.sdp }); });
  };

  Peer.prototype.handle = function (data) {
    var self = this, pc = this.pc;
    if (this.closed) return Promise.resolve();
    if (data.kind === "offer") {
      return pc.setRemoteDescription({ type: "offer", sdp: data.sdp })
        .then(function () { self.flush(); return pc.createAnswer(); })
        .then(function (answer) { return pc.setLocalDescription(answer); })
        .then(function () { self.opts.send({ kind: "answer", sdp: pc.localDescription.sdp }); });
    }
    if (data.kind === "answer") {
      if (pc.signalingState !== "have-local-offer") return Promise.resolve();
      return pc.setRemoteDescription({ type: "answer", sdp: data.sdp }).then(function () { self.flush(); });
    }
    if (data.kind === "ice") {
      if (!pc.remoteDescription) { this.pending.push(data.candidate); return Promise.resolve(); }
      return pc.addIceCandidate(data.candidate).catch(function () { /* stale candidate */ });
    }
    return Promise.resolve();
  };

  Peer.prototype.flush = function () {
    var pc = this.pc, list = this.pending;
    this.pending = [];
    list.forEach(function (c) { pc.addIceCandidate(c).catch(function () {}); });
  };

  // Screen sharing: the screen replaces the camera on the video sender (no renegotiation);
  // an audio-only call gets a new video track and a new offer.
  Peer.prototype.shareScreen = function () {
    var self = this, pc = this.pc;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) {
      var e = new Error("unsupported"); e.reason = "unsupported"; return Promise.reject(e);
    }
    return navigator.mediaDevices.getDisplayMedia({ video: true, audio: false }).then(function (stream) {
      var track = stream.getVideoTracks()[0];
      self.screen = stream;
      track.onended = function () { self.stopScreen(); };
      var sender = pc.getSenders().filter(function (s) { return s.track && s.track.kind === "video"; })[0];
      var done;
      if (sender) { self.cameraSender = sender; self.camera = sender.track; done = sender.replaceTrack(track); }
      else { self.screenSender = pc.addTrack(track, stream); done = self.offer(); }
      return done.then(function () { self.opts.send({ kind: "screen", on: true }); });
    }, function (err) { err.reason = mediaReason(err); throw err; });
  };

  Peer.prototype.stopScreen = function () {
    var self = this;
    if (!this.screen) return Promise.resolve();
    this.screen.getTracks().forEach(function (t) { t.stop(); });
    this.screen = null;
    var done = Promise.resolve();
    if (this.cameraSender) { done = this.cameraSender.replaceTrack(this.camera); this.cameraSender = null; }
    else if (this.screenSender) { this.pc.removeTrack(this.screenSender); this.screenSender = null; done = this.offer(); }
    return done.then(function () { if (!self.closed) self.opts.send({ kind: "screen", on: false }); });
  };

  Peer.prototype.close = function () {
    this.closed = true;
    [this.local, this.screen].forEach(function (s) { if (s) s.getTracks().forEach(function (t) { t.stop(); }); });
    try { this.pc.close(); } catch (e) { /* closed already */ }
  };

  // Bytes of media received so far (inbound-rtp), for tests and the connection indicator.
  Peer.prototype.received = function () {
    return this.pc.getStats().then(function (stats) {
      var bytes = 0;
      stats.forEach(function (r) { if (r.type === "inbound-rtp") bytes += r.bytesReceived || 0; });
      return bytes;
    });
  };

  window.FrontdeskRTC = { Peer: Peer, getMedia: getMedia, mediaReason: mediaReason };
})();
