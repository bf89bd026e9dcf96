/*
 * Rapport web chat: talks to `rasa run` over Rasa's socket.io channel (credentials.yml,
 * `session_persistence: true`).
 *
 * - The conversation id lives in localStorage and is sent with `session_request` on every
 *   (re)connect, so a reload or a server restart continues the same conversation.
 * - Earlier turns come back from the server's tracker store (`GET /conversations/<id>/tracker`,
 *   available when `rasa run --enable-api` is reachable from the browser); when the API is
 *   off or protected by a token, the page falls back to its own transcript in localStorage.
 * - The emotion the EmotionClassifier detected (`parse_data.emotion`) is read from the same
 *   tracker and shown next to the user's message; nothing is shown when it is absent.
 */
(function () {
  "use strict";

  var SESSION_KEY = "rapport.chat.session";
  var TRANSCRIPT_PREFIX = "rapport.chat.transcript.";
  var TRANSCRIPT_LIMIT = 200;
  var TYPING_TIMEOUT_MS = 30000;
  var EMOTION_FETCH_DELAY_MS = 300;
  var EMOTION_ICONS = {
    anger: "😠", disgust: "🤢", fear: "😨", joy: "😊", sadness: "😢", surprise: "😮", neutral: "😐"
  };

  var el = {
    messages: document.getElementById("messages"),
    typing: document.getElementById("typing"),
    quickReplies: document.getElementById("quick-replies"),
    unavailable: document.getElementById("unavailable"),
    connection: document.getElementById("connection"),
    form: document.getElementById("composer"),
    input: document.getElementById("message"),
    send: document.getElementById("send"),
    restart: document.getElementById("restart")
  };

  var serverUrl = resolveServerUrl();
  var sessionId = storageGet(SESSION_KEY);
  var historyShown = false;
  var typingTimer = null;
  var emotionTimer = null;
  var lastUserBubble = null;

  // --- configuration and storage ---------------------------------------------------------

  function resolveServerUrl() {
    var fromQuery = new URLSearchParams(window.location.search).get("server");
    if (fromQuery) { return fromQuery.replace(/\/+$/, ""); }
    var protocol = window.location.protocol === "https:" ? "https:" : "http:";
    return protocol + "//" + (window.location.hostname || "localhost") + ":5005";
  }

  // localStorage can be unavailable (private mode, file://); the chat then still works per page.
  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }

  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* not persisted */ }
  }

  function storageRemove(key) {
    try { window.localStorage.removeItem(key); } catch (e) { /* nothing to remove */ }
  }

  function loadTranscript() {
    try { return JSON.parse(storageGet(TRANSCRIPT_PREFIX + sessionId) || "[]"); } catch (e) { return []; }
  }

  function remember(entry) {
    if (!sessionId) { return; }
    var transcript = loadTranscript();
    transcript.push(entry);
    storageSet(TRANSCRIPT_PREFIX + sessionId, JSON.stringify(transcript.slice(-TRANSCRIPT_LIMIT)));
  }

  // --- rendering -----------------------------------------------------------------------------

  function scrollToEnd() {
    el.messages.scrollTop = el.messages.scrollHeight;
  }

  function addBubble(who, text) {
    var item = document.createElement("li");
    item.className = "message message--" + who;
    var speaker = document.createElement("span");
    speaker.className = "visually-hidden";
    speaker.textContent = who === "user" ? "You: " : "Assistant: ";
    var body = document.createElement("span");
    body.className = "message__text";
    body.textContent = text;
    item.appendChild(speaker);
    item.appendChild(body);
    el.messages.appendChild(item);
    if (who === "user") { lastUserBubble = item; }
    scrollToEnd();
    return item;
  }

  function addImage(src) {
    var item = document.createElement("li");
    item.className = "message message--bot";
    var image = document.createElement("img");
    image.src = src;
    image.alt = "Image from the assistant";
    item.appendChild(image);
    el.messages.appendChild(item);
    scrollToEnd();
  }

  function normaliseEmotion(emotion) {
    if (!emotion) { return null; }
    if (typeof emotion === "string") { return { name: emotion, confidence: null }; }
    var name = emotion.name || emotion.label || emotion.value;
    if (!name) { return null; }
    var confidence = typeof emotion.confidence === "number" ? emotion.confidence : null;
    return { name: String(name), confidence: confidence };
  }

  function showEmotion(bubble, rawEmotion) {
    var emotion = normaliseEmotion(rawEmotion);
    if (!bubble || !emotion) { return; }
    var badge = bubble.querySelector(".message__emotion");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "message__emotion";
      bubble.appendChild(badge);
    }
    var percent = emotion.confidence === null ? "" : " (" + Math.round(emotion.confidence * 100) + "%)";
    var description = "Detected emotion: " + emotion.name + percent;
    badge.textContent = (EMOTION_ICONS[emotion.name] || "•") + " " + emotion.name;
    badge.title = description;
    badge.setAttribute("aria-label", description);
    badge.dataset.emotion = emotion.name;
  }

  function showQuickReplies(replies) {
    el.quickReplies.textContent = "";
    el.quickReplies.hidden = !replies || replies.length === 0;
    (replies || []).forEach(function (reply) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "quick-reply";
      button.textContent = reply.title;
      button.disabled = el.send.disabled;
      button.addEventListener("click", function () {
        sendMessage(reply.payload, reply.title);
        el.input.focus();
      });
      el.quickReplies.appendChild(button);
    });
  }

  function setTyping(on) {
    el.typing.hidden = !on;
    window.clearTimeout(typingTimer);
    if (on) { typingTimer = window.setTimeout(function () { setTyping(false); }, TYPING_TIMEOUT_MS); }
  }

  function setConnected(connected) {
    el.unavailable.hidden = connected;
    el.send.disabled = !connected;
    el.connection.dataset.state = connected ? "online" : "offline";
    el.connection.textContent = connected ? "Online" : "Offline";
    el.quickReplies.querySelectorAll("button").forEach(function (b) { b.disabled = !connected; });
    if (!connected) { setTyping(false); }
  }

  // A button's payload (e.g. "/affirm") is what the tracker stores; show its title instead.
  function renderEvents(events) {
    var buttons = [];
    events.forEach(function (event) {
      if (event.event === "user") {
        var title = null;
        buttons.forEach(function (b) { if (b.payload === event.text) { title = b.title; } });
        var bubble = addBubble("user", title || event.text || "");
        showEmotion(bubble, event.parse_data && event.parse_data.emotion);
        buttons = [];
      } else if (event.event === "bot") {
        var data = event.data || {};
        // Split as Rasa's socket.io channel does, so a reload shows the same bubbles.
        (event.text || "").trim().split("\n\n").forEach(function (part) {
          if (part) { addBubble("bot", part); }
        });
        if (data.image) { addImage(data.image); }
        buttons = data.buttons || data.quick_replies || [];
      }
    });
    showQuickReplies(buttons);
  }

  function renderTranscript(entries) {
    entries.forEach(function (entry) {
      var bubble = addBubble(entry.who, entry.text);
      if (entry.emotion) { showEmotion(bubble, entry.emotion); }
    });
    var last = entries[entries.length - 1];
    showQuickReplies(last && last.who === "bot" ? last.buttons : []);
  }

  // --- talking to the server ---------------------------------------------------------------

  function fetchTracker(includeEvents) {
    var url = serverUrl + "/conversations/" + encodeURIComponent(sessionId) +
      "/tracker?include_events=" + includeEvents;
    return window.fetch(url, { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) { throw new Error("tracker: HTTP " + response.status); }
      return response.json();
    });
  }

  function showHistory() {
    return fetchTracker("ALL")
      .then(function (tracker) { renderEvents(tracker.events || []); })
      .catch(function () { renderTranscript(loadTranscript()); });
  }

  function refreshEmotion() {
    var bubble = lastUserBubble;
    fetchTracker("NONE")
      .then(function (tracker) {
        var emotion = tracker.latest_message && tracker.latest_message.emotion;
        if (emotion && bubble) {
          showEmotion(bubble, emotion);
          updateLastUserEntry(emotion);
        }
      })
      .catch(function () { /* API not reachable: no indicator */ });
  }

  function updateLastUserEntry(emotion) {
    var transcript = loadTranscript();
    for (var i = transcript.length - 1; i >= 0; i--) {
      if (transcript[i].who === "user") {
        transcript[i].emotion = emotion;
        storageSet(TRANSCRIPT_PREFIX + sessionId, JSON.stringify(transcript));
        return;
      }
    }
  }

  var socket = window.io(serverUrl, {
    path: "/socket.io",
    reconnection: true,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000
  });

  socket.on("connect", function () {
    socket.emit("session_request", { session_id: sessionId });
  });

  socket.on("session_confirm", function (confirmedId) {
    var id = typeof confirmedId === "string" ? confirmedId : (confirmedId && confirmedId.session_id);
    var isNew = id !== sessionId;
    sessionId = id;
    storageSet(SESSION_KEY, sessionId);
    setConnected(true);
    document.body.dataset.sessionId = sessionId;
    if (!historyShown) {
      historyShown = true;
      (isNew ? Promise.resolve() : showHistory()).then(function () {
        document.body.dataset.ready = "true";
      });
    }
  });

  socket.on("connect_error", function () { setConnected(false); });
  socket.on("disconnect", function () { setConnected(false); });

  socket.on("bot_uttered", function (message) {
    setTyping(false);
    if (!message) { return; }
    if (message.text) { addBubble("bot", message.text); }
    var attachment = message.attachment;
    if (attachment && attachment.type === "image" && attachment.payload) { addImage(attachment.payload.src); }
    var replies = message.quick_replies || message.buttons || [];
    showQuickReplies(replies);
    var emotion = message.emotion || (message.metadata && message.metadata.emotion);
    if (emotion) { showEmotion(lastUserBubble, emotion); }
    if (message.text) { remember({ who: "bot", text: message.text, buttons: replies }); }
    window.clearTimeout(emotionTimer);
    emotionTimer = window.setTimeout(refreshEmotion, EMOTION_FETCH_DELAY_MS);
  });

  function sendMessage(payload, shownText) {
    if (!socket.connected || !sessionId) { setConnected(false); return; }
    addBubble("user", shownText);
    remember({ who: "user", text: shownText });
    showQuickReplies([]);
    setTyping(true);
    socket.emit("user_uttered", { message: payload, session_id: sessionId });
  }

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = el.input.value.trim();
    if (!text) { return; }
    el.input.value = "";
    sendMessage(text, text);
  });

  el.restart.addEventListener("click", function () {
    if (sessionId) { storageRemove(TRANSCRIPT_PREFIX + sessionId); }
    storageRemove(SESSION_KEY);
    window.location.reload();
  });

  setConnected(false);
  el.connection.textContent = "Connecting…";
  el.unavailable.hidden = true;
})();
