// The analytics dashboard: polls /api/overview and redraws. Plain JS, Chart.js vendored.
// Everything from the server is shown with textContent, never parsed as HTML.
(function () {
  "use strict";
  var POLL_MS = 2000;
  var PARAMS = new URLSearchParams(location.search);
  var MINUTES = Number(PARAMS.get("minutes")) || 60;
  // With a dashboard token, the page is opened as /?token=...; the API calls carry it along.
  var HEADERS = PARAMS.get("token") ? { Authorization: "Bearer " + PARAMS.get("token") } : {};
  var COLOURS = {
    anger: "#d62728", disgust: "#8c564b", fear: "#9467bd", joy: "#2ca02c",
    neutral: "#c7c7c7", sadness: "#1f77b4", surprise: "#ff7f0e", "(none)": "#e6e6e6"
  };
  var ORDER = ["anger", "disgust", "fear", "sadness", "surprise", "joy", "neutral", "(none)"];
  var ANGRY = ["anger", "disgust"];

  function el(id) { return document.getElementById(id); }
  function colour(label) { return COLOURS[label] || "#999"; }
  function ordered(labels) {
    return labels.slice().sort(function (a, b) {
      var i = ORDER.indexOf(a), j = ORDER.indexOf(b);
      return (i < 0 ? 99 : i) - (j < 0 ? 99 : j) || a.localeCompare(b);
    });
  }
  function percent(x) { return (100 * x).toFixed(x && x < 0.1 ? 1 : 0) + "%"; }
  function clock(seconds) { return new Date(seconds * 1000).toISOString().slice(11, 19) + " UTC"; }
  function node(tag, text, className) {
    var n = document.createElement(tag);
    if (text !== undefined) { n.textContent = text; }
    if (className) { n.className = className; }
    return n;
  }

  var stacked = { x: { stacked: true }, y: { stacked: true, beginAtZero: true } };
  var timeline = new Chart(el("emotion-timeline"), {
    type: "bar", data: { labels: [], datasets: [] },
    options: { animation: false, maintainAspectRatio: false, scales: stacked,
               plugins: { legend: { position: "right" } } }
  });
  var byIntent = new Chart(el("emotion-by-intent"), {
    type: "bar", data: { labels: [], datasets: [] },
    options: { animation: false, maintainAspectRatio: false, indexAxis: "y",
               scales: { x: { stacked: true, beginAtZero: true }, y: { stacked: true } },
               plugins: { legend: { display: false } } }
  });

  function drawTimeline(data) {
    timeline.data.labels = data.minutes;
    timeline.data.datasets = ordered(Object.keys(data.emotions)).map(function (label) {
      return { label: label, data: data.emotions[label], backgroundColor: colour(label) };
    });
    timeline.update("none");
  }

  function drawIntents(data) {
    var intents = Object.keys(data.intents);
    var labels = {};
    intents.forEach(function (i) { Object.keys(data.intents[i]).forEach(function (e) { labels[e] = 1; }); });
    byIntent.data.labels = intents;
    byIntent.data.datasets = ordered(Object.keys(labels)).map(function (label) {
      return { label: label, backgroundColor: colour(label),
               data: intents.map(function (i) { return data.intents[i][label] || 0; }) };
    });
    byIntent.update("none");
  }

  function drawTotals(data) {
    var t = data.totals, angry = 0, all = 0;
    Object.keys(data.emotions).forEach(function (label) {
      var sum = data.emotions[label].reduce(function (a, b) { return a + b; }, 0);
      all += sum;
      if (ANGRY.indexOf(label) >= 0) { angry += sum; }
    });
    el("total-messages").textContent = t.messages || 0;
    el("total-conversations").textContent = t.conversations || 0;
    el("total-angry").textContent = percent(all ? angry / all : 0);
    el("total-fallback").textContent = percent(t.fallback_rate || 0);
    el("total-handoffs").textContent = t.handoffs || 0;
    el("window").textContent = data.minutes.length ?
      "(" + data.minutes[0] + "–" + data.minutes[data.minutes.length - 1] + " UTC)" : "";
    document.body.dataset.messages = t.messages || 0;
  }

  function drawNeedsHuman(rows) {
    var body = el("needs-human").querySelector("tbody");
    body.replaceChildren();
    rows.forEach(function (row) {
      var tr = node("tr"), link = node("a", row.sender_id);
      link.href = "#conversation=" + encodeURIComponent(row.sender_id);
      var td = node("td"); td.appendChild(link); tr.appendChild(td);
      tr.appendChild(node("td", row.streak, "angry"));
      tr.appendChild(node("td", row.last_intent));
      tr.appendChild(node("td", clock(row.last_seen)));
      tr.dataset.sender = row.sender_id;
      body.appendChild(tr);
    });
    el("needs-human-empty").hidden = rows.length > 0;
  }

  function drawAlerts(alerts) {
    var list = el("alerts");
    list.replaceChildren();
    alerts.forEach(function (a) {
      var li = node("li");
      li.appendChild(node("span", a.kind, "kind " + a.kind));
      li.appendChild(node("span", a.kind === "spike" ?
        a.time + ": intent " + a.subject + ", " + percent(a.share) + " angry of " + a.count +
          " messages (baseline " + percent(a.baseline) + ")" :
        a.time + ": conversation " + a.subject + " angry for " + a.count + " turns, no handoff"));
      list.appendChild(li);
    });
    el("alerts-empty").hidden = alerts.length > 0;
  }

  function refresh() {
    return fetch("api/overview?minutes=" + MINUTES, { cache: "no-store", headers: HEADERS })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        drawTimeline(data); drawIntents(data); drawTotals(data);
        drawNeedsHuman(data.needs_human); drawAlerts(data.alerts);
        el("status").textContent = "Live, updated " + new Date().toLocaleTimeString();
        el("status").className = "";
        document.body.dataset.ready = "true";
      })
      .catch(function () {
        el("status").textContent = "The analytics service is not answering; retrying…";
        el("status").className = "down";
      });
  }

  function showTranscript() {
    var match = /^#conversation=(.+)$/.exec(location.hash);
    var panel = el("transcript");
    if (!match) { panel.hidden = true; return; }
    var sender = decodeURIComponent(match[1]);
    panel.hidden = false;
    el("transcript-id").textContent = sender;
    var turns = el("turns");
    turns.replaceChildren(node("li", "Loading…", "system"));
    fetch("api/conversations/" + encodeURIComponent(sender), { cache: "no-store", headers: HEADERS })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        turns.replaceChildren();
        if (!res.ok) { turns.appendChild(node("li", res.body.error || "Not available", "system")); return; }
        res.body.turns.forEach(function (turn) {
          var li = node("li", turn.text, turn.who);
          if (turn.who === "user") {
            var badge = node("span", turn.emotion + (turn.confidence ? " " + percent(turn.confidence) : ""), "emotion");
            badge.style.background = colour(turn.emotion);
            li.appendChild(badge);
            li.dataset.emotion = turn.emotion;
          }
          turns.appendChild(li);
        });
        panel.dataset.loaded = "true";
        panel.scrollIntoView();
      })
      .catch(function () { turns.replaceChildren(node("li", "Rasa is not reachable", "system")); });
  }

  el("transcript-close").addEventListener("click", function (e) {
    e.preventDefault(); history.replaceState(null, "", location.pathname + location.search); showTranscript();
  });
  window.addEventListener("hashchange", showTranscript);
  refresh();
  setInterval(refresh, POLL_MS);
  showTranscript();
}());
