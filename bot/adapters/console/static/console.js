// approval-bot console: refresh the live parts of a request page without a reload.
// Served from /console/static (the Content-Security-Policy allows no inline script).
(function () {
  "use strict";
  var status = document.getElementById("live-status");
  if (!status) { return; }
  var url = status.getAttribute("data-status-url");
  var stamp = status.getAttribute("data-stamp");
  var shownState = status.getAttribute("data-state");
  var every = 2000;

  // "Your approval is recorded." answers the click: it goes once the request moves on (the
  // status says what happened since), and a reload of the page does not bring it back.
  if (document.getElementById("done") && window.history.replaceState) {
    window.history.replaceState(null, "", window.location.pathname);
  }

  function apply(s) {
    if (s.state !== shownState) {
      var done = document.getElementById("done");
      if (done) { done.remove(); }
    }
    if (s.stamp !== stamp) {
      stamp = s.stamp;
      Object.keys(s.html).forEach(function (id) {
        var el = document.getElementById(id);
        if (el) { el.innerHTML = s.html[id]; }
      });
    }
    if (!s.pending) {
      var vote = document.getElementById("vote");
      if (vote) { vote.remove(); }
    }
    status.setAttribute("data-settled", s.settled ? "yes" : "no");
    if (!s.settled) { window.setTimeout(poll, every); }
  }

  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(apply)
      .catch(function () { window.setTimeout(poll, every * 5); });
  }

  if (status.getAttribute("data-settled") !== "yes") { window.setTimeout(poll, every); }
})();
