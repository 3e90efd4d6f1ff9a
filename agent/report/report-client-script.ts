/**
 * The script inlined in the HTML report: draws each protocol's latency scatter on its canvas
 * from the embedded JSON (#report-data), redraws on resize, and shows the nearest point's time
 * and latency on hover. Plain ES2017 for any browser; no libraries, no network. `colors`: the
 * series colour by protocol name (the descriptors').
 */
export function reportScript(colors: Readonly<Record<string, string>>): string {
  return String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var colors = ${JSON.stringify(colors).replaceAll('<', '\\u003c')};
  var errorColor = '#E00000';
  function fmt(ns) {
    if (ns < 1e3) return ns + ' ns';
    if (ns < 1e6) return (ns / 1e3).toPrecision(3) + ' \u00b5s';
    if (ns < 1e9) return (ns / 1e6).toPrecision(3) + ' ms';
    return (ns / 1e9).toPrecision(3) + ' s';
  }
  function draw(canvas, series) {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth || 800;
    var h = canvas.clientHeight || 260;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    var ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var m = { l: 64, r: 12, t: 8, b: 28 };
    var lo = Infinity, hi = 0, i;
    for (i = 0; i < series.d.length; i++) {
      var v = Math.max(1, series.d[i]);
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    var l0 = Math.floor(Math.log10(lo)), l1 = Math.ceil(Math.log10(hi));
    if (l1 <= l0) l1 = l0 + 1;
    var t0 = data.t0, t1 = data.t1;
    function x(t) { return m.l + ((t - t0) / (t1 - t0)) * (w - m.l - m.r); }
    function y(d) { return h - m.b - ((Math.log10(Math.max(1, d)) - l0) / (l1 - l0)) * (h - m.t - m.b); }
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#555';
    ctx.strokeStyle = '#e5e5e5';
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    for (var e = l0; e <= l1; e++) {
      var py = Math.round(y(Math.pow(10, e))) + 0.5;
      ctx.beginPath(); ctx.moveTo(m.l, py); ctx.lineTo(w - m.r, py); ctx.stroke();
      ctx.fillText(fmt(Math.pow(10, e)), m.l - 6, py + 4);
    }
    for (var k = 0; k <= 4; k++) {
      ctx.textAlign = k === 0 ? 'left' : k === 4 ? 'right' : 'center';
      var t = t0 + (k / 4) * (t1 - t0);
      ctx.fillText('+' + (t - t0).toPrecision(3) + ' s', x(t), h - m.b + 16);
    }
    var base = colors[series.protocol] || '#777777';
    // Ordinary pairs first, errors on top.
    // Few points: bigger dots; dense data: 2 px so that neighbouring cells stay apart.
    var size = series.t.length < 5000 ? 4 : 2;
    for (var pass = 0; pass < 2; pass++) {
      ctx.fillStyle = pass === 0 ? base : errorColor;
      var s2 = pass === 0 ? size : size + 1;
      for (i = 0; i < series.t.length; i++) {
        if (series.e[i] !== pass) continue;
        ctx.fillRect(x(series.t[i]) - s2 / 2, y(series.d[i]) - s2 / 2, s2, s2);
      }
    }
    canvas._project = { x: x, y: y };
  }
  var canvases = document.querySelectorAll('canvas.scatter');
  var tip = document.createElement('div');
  tip.style.cssText = 'position:fixed;pointer-events:none;background:#222;color:#fff;font:12px system-ui,sans-serif;padding:3px 6px;border-radius:3px;display:none;z-index:10';
  document.body.appendChild(tip);
  function drawAll() {
    for (var c = 0; c < canvases.length; c++) {
      var s = data.series[c];
      if (s) draw(canvases[c], s);
    }
  }
  Array.prototype.forEach.call(canvases, function (canvas, c) {
    canvas.addEventListener('mousemove', function (ev) {
      var s = data.series[c], p = canvas._project;
      if (!s || !p) return;
      var r = canvas.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
      var best = -1, bestD = 64;
      for (var i = 0; i < s.t.length; i++) {
        var dx = p.x(s.t[i]) - mx, dy = p.y(s.d[i]) - my, dd = dx * dx + dy * dy;
        if (dd < bestD) { bestD = dd; best = i; }
      }
      if (best < 0) { tip.style.display = 'none'; return; }
      var sec = Math.floor(s.t[best]);
      var at = new Date((data.timeBase + sec) * 1000).toISOString().slice(0, 19) + 'Z';
      tip.textContent = s.protocol + ' ' + fmt(s.d[best]) + ' at ' + at + ' (+' + (s.t[best] - data.t0).toFixed(6) + ' s)' + (s.e[best] ? ' error' : '');
      tip.style.left = ev.clientX + 12 + 'px';
      tip.style.top = ev.clientY + 12 + 'px';
      tip.style.display = 'block';
    });
    canvas.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
  });
  drawAll();
  var pending = 0;
  window.addEventListener('resize', function () {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(drawAll);
  });
  document.documentElement.setAttribute('data-rendered', String(canvases.length));
})();
`;
}
