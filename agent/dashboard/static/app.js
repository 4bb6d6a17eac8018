"use strict";
(function () {
  var key = "";
  var m = /(?:^|&)key=([^&]+)/.exec(location.hash.slice(1));
  if (m) { key = decodeURIComponent(m[1]); sessionStorage.setItem("replicator-key", key); history.replaceState(null, "", location.pathname); }
  if (!key) { key = sessionStorage.getItem("replicator-key") || ""; }
  var form = document.getElementById("keyform");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    key = document.getElementById("key").value;
    sessionStorage.setItem("replicator-key", key);
    form.hidden = true;
    refresh();
  });
  var selected = "";

  function api(path) {
    return fetch(path, { headers: { Authorization: "Bearer " + key } }).then(function (r) {
      if (r.status === 401 || r.status === 403) { form.hidden = false; throw new Error("the API key was refused (" + r.status + ")"); }
      return r.json();
    });
  }
  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    tr.appendChild(td);
    return td;
  }
  function fmtBytes(n) {
    if (n == null) { return "?"; }
    var u = ["bytes", "kB", "MB", "GB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }
  function chart(points) {
    var ns = "http://www.w3.org/2000/svg", w = 240, h = 48;
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", w); svg.setAttribute("height", h); svg.setAttribute("class", "lagchart");
    if (points.length < 1) { return svg; }
    var maxv = 0;
    points.forEach(function (p) { maxv = Math.max(maxv, p.lag_bytes || 0); });
    var d = points.map(function (p, i) {
      var x = points.length === 1 ? w / 2 : i * (w - 4) / (points.length - 1) + 2;
      var y = h - 2 - (maxv ? (p.lag_bytes || 0) / maxv * (h - 4) : 0);
      return (i ? "L" : "M") + x.toFixed(1) + " " + y.toFixed(1);
    }).join(" ");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d); path.setAttribute("fill", "none"); path.setAttribute("stroke", "#1a55a8");
    svg.appendChild(path);
    return svg;
  }
  function showLog(id) {
    selected = id;
    api("/v1/jobs/" + encodeURIComponent(id) + "/logs").then(function (r) {
      var t = document.getElementById("logtitle");
      t.hidden = false; t.textContent = "Log of " + r.job.id + " (" + r.job.command + ", " + r.job.status + ")";
      var pre = document.getElementById("log");
      pre.hidden = false;
      pre.textContent = r.lines.map(function (l) { return l.line; }).join("\n");
      // Phases: the summary lines the commands print (plan, apply, snapshot,
      // cutover steps), the takeover lines and errors.
      var phases = r.lines.filter(function (l) { return /^(Plan: |Applied |Error: |Step |agent .* (resumes|stopped renewing))|complete\.$/.test(l.line); });
      document.getElementById("phases").textContent = phases.length ? "Phases: " + phases.map(function (l) { return l.line.trim(); }).join(" → ") : "";
      showCopy(r.lines);
    }).catch(report);
  }
  // showCopy renders the newest progress line of the log (done=N/M and one
  // "rows, bytes, rate" value per table being copied) as a table.
  function showCopy(lines) {
    var tb = document.querySelector("#copy tbody");
    tb.textContent = "";
    var last = null;
    lines.forEach(function (l) { if (/ progress: /.test(l.line)) { last = l.line; } });
    document.getElementById("copy").hidden = !last;
    if (!last) { return; }
    var re = /([^\s=]+)=("([^"]*)"|\S+)/g, m;
    while ((m = re.exec(last)) !== null) {
      var tr = document.createElement("tr");
      cell(tr, m[1] === "done" ? "changes done" : m[1]);
      cell(tr, m[3] !== undefined ? m[3] : m[2]);
      tb.appendChild(tr);
    }
  }
  function report(e) { document.getElementById("err").textContent = String(e.message || e); }
  function refresh() {
    if (!key) { form.hidden = false; return; }
    api("/v1/replications?history=1").then(function (r) {
      var tb = document.querySelector("#reps tbody");
      tb.textContent = "";
      r.replications.forEach(function (rep) {
        var tr = document.createElement("tr");
        tr.className = "replication";
        cell(tr, (rep.job && rep.job.label ? rep.job.label + " " : "") + "(" + rep.lease.lease_key + ")");
        cell(tr, rep.lease.job_id);
        cell(tr, rep.job ? rep.job.status : "?", rep.job ? rep.job.status : "");
        cell(tr, rep.lease.holder);
        cell(tr, rep.lag ? fmtBytes(rep.lag.lag_bytes) + " / " + (rep.lag.lag_seconds || 0).toFixed(1) + " s" : "no sample yet", "lag");
        cell(tr, "").appendChild(chart(rep.lag_history || []));
        tb.appendChild(tr);
      });
      return api("/v1/jobs?limit=50");
    }).then(function (r) {
      var tb = document.querySelector("#jobs tbody");
      tb.textContent = "";
      r.jobs.forEach(function (j) {
        var tr = document.createElement("tr");
        tr.className = "job";
        var a = document.createElement("a");
        a.href = "#"; a.textContent = j.id;
        a.addEventListener("click", function (e) { e.preventDefault(); showLog(j.id); });
        cell(tr, "").appendChild(a);
        cell(tr, j.command + (j.label ? " " + j.label : ""));
        cell(tr, j.status, "status " + j.status);
        cell(tr, j.exit_code == null ? "" : String(j.exit_code));
        cell(tr, j.agent || "");
        cell(tr, new Date(j.created_at).toLocaleString());
        tb.appendChild(tr);
      });
      document.getElementById("err").textContent = "";
      if (selected) { showLog(selected); }
    }).catch(report);
  }
  refresh();
  setInterval(refresh, 2000);
})();
