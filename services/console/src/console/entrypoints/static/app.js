/* CityOps console: forms → REST API (JSON + CSRF header), live updates over
   SSE, countdowns, the map (Leaflet over the city's GeoJSON, no tile server),
   proof checks and evaluation charts (ECharts). No build step, no CDN. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var T = {};
  try { T = JSON.parse(document.getElementById("i18n").textContent); } catch (e) { T = {}; }
  function t(key) { return T[key] || key; }

  function toast(message, ok) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.className = ok ? "show ok" : "show bad";
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.className = ""; }, ok ? 2500 : 8000);
  }

  function detailOf(body) {
    if (!body) return "";
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; }).join("; ");
    }
    return JSON.stringify(body);
  }

  function api(method, url, payload, isForm) {
    var headers = { "X-CSRF-Token": csrf, "Accept": "application/json" };
    var body;
    if (isForm) { body = payload; } else if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(payload);
    }
    return fetch(url, { method: method, headers: headers, body: body, credentials: "same-origin" })
      .then(function (res) {
        return res.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
          if (!res.ok) { var err = new Error(detailOf(data) || res.statusText); err.status = res.status; throw err; }
          return data;
        });
      });
  }

  function formPayload(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.type === "submit" || el.disabled) return;
      if (el.type === "checkbox") { out[el.name] = el.checked; return; }
      var kind = el.getAttribute("data-type");
      var v = el.value;
      if (kind === "bool") out[el.name] = v === "true";
      else if (kind === "int") out[el.name] = v === "" ? 0 : parseInt(v, 10);
      else if (kind === "float") out[el.name] = v === "" ? 0 : parseFloat(v);
      else if (el.multiple) out[el.name] = Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
      else out[el.name] = v;
    });
    return out;
  }

  function upload(form, payload) {
    var input = form.querySelector('input[type="file"]');
    var target = form.getAttribute("data-upload");
    if (!target || !input || !input.files || !input.files.length) return Promise.resolve(payload);
    var data = new FormData();
    data.append("file", input.files[0]);
    data.append("kind", form.getAttribute("data-upload-kind") || "EVIDENCE_KIND_OTHER");
    data.append("request_id", (payload.request_id || "") + "-upload");
    toast(t("uploading"), true);
    return api("POST", target, data, true).then(function (reply) {
      if (reply && reply.evidence && reply.evidence.evidence_id && form.id === "progress-form") {
        payload.evidence_ids = [reply.evidence.evidence_id];
      }
      return payload;
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var action = form.getAttribute && form.getAttribute("data-action");
    if (!action) return;
    event.preventDefault();
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    var multipart = form.getAttribute("data-encoding") === "multipart";
    var sent = multipart
      ? api(form.getAttribute("data-method") || "POST", action, new FormData(form), true)
      : upload(form, formPayload(form)).then(function (payload) {
          return api(form.getAttribute("data-method") || "POST", action, payload);
        });
    sent
      .then(function () {
        toast(t("done"), true);
        var then = form.getAttribute("data-then") || "";
        if (then === "reload") setTimeout(function () { window.location.reload(); }, 400);
        else if (then.indexOf("redirect:") === 0) window.location.href = then.slice(9);
      })
      .catch(function (err) { toast(t("failed") + ": " + err.message, false); })
      .then(function () { buttons.forEach(function (b) { b.disabled = false; }); });
  });

  /* Proof and ledger checks */
  function mark(ok) { return ok ? "✓" : "✗"; }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-proof], [data-ledger]");
    if (!button) return;
    var target = document.querySelector(button.getAttribute("data-proof-target"));
    var url = button.getAttribute("data-proof") || button.getAttribute("data-ledger");
    if (target) target.textContent = t("checking");
    api("GET", url).then(function (r) {
      if (!target) return;
      var ok = r.ok;
      var lines = [];
      if (r.entries) {
        r.entries.forEach(function (e) {
          lines.push("#" + e.sequence + " " + mark(e.ok) + " " + t("leaf") + mark(e.leaf_matches) + " " + t("path") + mark(e.path_leads_to_root) + " " + t("signature") + mark(e.signature_valid) + " " + t("key") + mark(e.key_trusted));
        });
        if (r.entries.length) lines.push("tree " + r.entries[0].tree_size + " · root " + r.entries[0].root_hash_hex.slice(0, 16) + "… · key " + r.entries[0].key_id.slice(0, 16) + "…");
      } else if (r.sequence !== undefined) {
        lines.push(t("leaf") + mark(r.leaf_matches) + " " + t("path") + mark(r.path_leads_to_root) + " " + t("signature") + mark(r.signature_valid) + " " + t("key") + mark(r.key_trusted));
      } else if (r.entries_checked !== undefined) {
        lines.push((r.entries_checked || 0) + " entries · " + (r.tree_heads_checked || 0) + " tree heads" + (r.problem ? " · " + r.problem : ""));
      }
      target.className = ok ? "proof ok" : "proof bad";
      target.textContent = (ok ? t("verified") : t("not_verified")) + " — " + lines.join(" | ");
    }).catch(function (err) {
      if (target) { target.className = "proof bad"; target.textContent = t("failed") + ": " + err.message; }
    });
  });

  /* Countdowns to deadlines */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function countdown(seconds) {
    var sign = seconds < 0 ? "-" : "";
    var left = Math.abs(Math.round(seconds));
    var d = Math.floor(left / 86400); left -= d * 86400;
    var h = Math.floor(left / 3600); left -= h * 3600;
    var m = Math.floor(left / 60); var s = left - m * 60;
    var clock = pad(h) + ":" + pad(m) + ":" + pad(s);
    return sign + (d ? d + "d " : "") + clock;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var when = Date.parse(el.getAttribute("data-deadline"));
      if (isNaN(when)) return;
      var seconds = (when - now) / 1000;
      el.textContent = countdown(seconds);
      el.classList.toggle("overdue", seconds < 0);
      el.title = seconds < 0 ? t("overdue") : "";
    });
  }
  setInterval(tick, 1000);

  /* Live updates */
  var refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      document.body.dispatchEvent(new CustomEvent("cityops-refresh", { bubbles: true }));
    }, 1500);
  }
  if (window.EventSource && document.querySelector('meta[name="csrf-token"]').content) {
    var live = document.getElementById("live");
    var source = new EventSource("/api/events");
    source.onopen = function () { if (live) { live.hidden = false; live.className = "live on"; live.title = t("live"); } };
    source.onerror = function () { if (live) { live.className = "live off"; live.title = t("offline"); } };
    source.onmessage = refreshSoon;
    ["CaseFiled", "CaseRejected", "CaseMerged", "CaseReclassified", "CaseUrgencyChanged", "CaseCorroborated",
     "CaseDispatched", "CaseRedispatched", "CaseUnroutable", "CaseEscalated", "CaseBacklogged", "CaseResumed",
     "CaseArbitrationRequested", "ExtensionDecided", "WorkOrderCreated", "WorkOrderAccepted",
     "WorkOrderReturned", "WorkOrderProgressed", "WorkOrderExtensionRequested", "WorkOrderCompleted",
     "WorkOrderReopened", "CaseVerified", "CaseRework", "CaseClosed", "Resync"].forEach(function (kind) {
      source.addEventListener(kind, function (e) {
        refreshSoon();
        document.body.dispatchEvent(new CustomEvent("cityops-event", { detail: JSON.parse(e.data || "{}") }));
      });
    });
  }

  /* Map */
  function initMap() {
    var el = document.getElementById("map");
    if (!el) return;
    if (!window.L) { el.textContent = "Leaflet not installed (npm ci --prefix services/console/frontend)"; return; }
    var map = window.L.map(el, { zoomSnap: 0.25, attributionControl: false });
    var city = null;
    var markers = window.L.layerGroup().addTo(map);
    function style(feature) {
      var level = feature.properties.level;
      return { color: level === "district" ? "#0b3d6e" : "#8aa4c0", weight: level === "district" ? 2 : (level === "street" ? 1 : 0.5),
               fillOpacity: level === "district" ? 0.04 : 0, dashArray: level === "grid" ? "2 3" : null };
    }
    api("GET", "/api/map/city").then(function (geo) {
      city = window.L.geoJSON(geo, {
        style: style,
        onEachFeature: function (f, layer) {
          if (f.properties.level === "district") layer.bindTooltip(document.body.dataset.lang === "en" ? f.properties.name_en : f.properties.name_zh, { sticky: true });
        }
      }).addTo(map);
      map.fitBounds(city.getBounds(), { padding: [10, 10] });
      loadCases();
    });
    function loadCases() {
      var query = el.getAttribute("data-query") || "";
      api("GET", "/api/map/cases" + (query ? "?" + query : "")).then(function (geo) {
        markers.clearLayers();
        geo.features.forEach(function (f) {
          var p = f.properties;
          var c = f.geometry.coordinates;
          var m = window.L.circleMarker([c[1], c[0]], {
            radius: 5 + 2.5 * (p.weight || 0), color: p.overdue ? "#c00" : "#fff", weight: p.overdue ? 3 : 1,
            fillColor: p.colour, fillOpacity: 0.9
          });
          m.bindPopup("<strong></strong><br><span></span><br><a>" + t("open_case") + "</a>");
          m.on("popupopen", function (e) {
            var node = e.popup.getElement();
            node.querySelector("strong").textContent = p.title;
            node.querySelector("span").textContent = p.state_label + (p.urgency_label ? " · " + p.urgency_label : "");
            node.querySelector("a").href = "/cases/" + encodeURIComponent(p.case_id);
          });
          m.feature = f;
          markers.addLayer(m);
        });
        el.setAttribute("data-markers", String(geo.features.length));
      });
    }
    document.body.addEventListener("cityops-refresh", loadCases);
  }

  /* Evaluation charts */
  function initEvaluation() {
    var form = document.getElementById("evaluation-form");
    if (!form) return;
    function params() {
      var p = new URLSearchParams();
      ["start", "end", "group_by"].forEach(function (n) { var v = form.elements[n].value; if (v) p.set(n, v); });
      return p;
    }
    function figure(row, code) {
      for (var i = 0; i < row.figures.length; i++) if (row.figures[i].code === code) return row.figures[i];
      return null;
    }
    function load() {
      var p = params();
      ["csv", "xlsx"].forEach(function (f) { var q = new URLSearchParams(p); q.set("format", f); document.getElementById("export-" + f).href = "/api/evaluation/export?" + q; });
      api("GET", "/api/evaluation?" + p).then(function (report) {
        var rows = report.rows || [];
        var meta = document.getElementById("evaluation-meta");
        meta.textContent = (report.formula_version || "") + " · ledger " + (report.ledger_tree_size || 0) + " · " + (report.computed_at || "");
        var groups = rows.map(function (r) { return r.group_key; });
        var codes = [];
        rows.forEach(function (r) { (r.figures || []).forEach(function (f) { if (codes.indexOf(f.code) < 0) codes.push(f.code); }); });
        var rateCodes = codes.filter(function (c) { return /_rate$/.test(c); });
        if (window.echarts) {
          var score = window.echarts.init(document.getElementById("chart-score"));
          score.setOption({ title: { text: t("score") }, tooltip: {}, grid: { left: 160 },
            xAxis: { type: "value", max: 100 }, yAxis: { type: "category", data: groups },
            series: [{ type: "bar", data: rows.map(function (r) { var f = figure(r, "composite_score"); return f && f.defined ? +f.value.toFixed(1) : 0; }) }] });
          var rates = window.echarts.init(document.getElementById("chart-rates"));
          rates.setOption({ tooltip: { trigger: "axis" }, legend: { type: "scroll" }, grid: { left: 50, bottom: 90 },
            xAxis: { type: "category", data: groups, axisLabel: { rotate: 30 } }, yAxis: { type: "value", max: 1 },
            series: rateCodes.map(function (code) {
              var name = code; rows.some(function (r) { var f = figure(r, code); if (f) { name = f.name_zh || code; return true; } return false; });
              return { name: name, type: "bar", data: rows.map(function (r) { var f = figure(r, code); return f && f.defined ? +(+f.value).toFixed(3) : null; }) };
            }) });
          window.addEventListener("resize", function () { score.resize(); rates.resize(); });
        }
        var table = document.createElement("table");
        table.id = "evaluation-rows";
        var head = table.createTHead().insertRow();
        [""].concat(codes).forEach(function (c) {
          var th = document.createElement("th");
          var label = c; rows.some(function (r) { var f = figure(r, c); if (f) { label = f.name_zh || c; return true; } return false; });
          th.textContent = label; head.appendChild(th);
        });
        var body = table.createTBody();
        rows.forEach(function (r) {
          var tr = body.insertRow();
          tr.insertCell().textContent = r.group_key;
          codes.forEach(function (c) { var f = figure(r, c); tr.insertCell().textContent = f && f.defined ? (+f.value).toFixed(/_rate$/.test(c) ? 3 : 1) : "—"; });
        });
        var box = document.getElementById("evaluation-table");
        box.innerHTML = ""; box.appendChild(table);
      }).catch(function (err) { toast(t("failed") + ": " + err.message, false); });
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); load(); });
    load();
  }

  document.addEventListener("DOMContentLoaded", function () { tick(); initMap(); initEvaluation(); });
})();
