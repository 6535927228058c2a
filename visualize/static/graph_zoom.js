/* Glassjax graph zoom: zoom, pan and fit for a Graphviz SVG in a notebook pane.

     GlassjaxGraphZoom.attach(box)   // box: the element holding one <svg>; idempotent

   The drawing is moved through its viewBox (the SVG keeps the pane's width and a
   fixed height), so it stays sharp at every scale. Controls: the pane's buttons
   [data-gjx-zoom="out|in|fit|one"] (shown only once this script runs, so a saved copy
   without scripts shows none), Ctrl/Cmd + wheel zooms at the pointer, dragging pans,
   keys + - 0 (fit) 1 (100%) while the box has focus. A drag never counts as a click,
   so panning does not select a node. When the pane linker highlights nodes that lie
   outside the view, the view pans to the first of them. State is on box.__gjxZoom:
   {scale: screen px per px of the natural drawing, fitted}. */
(function (root) {
  "use strict";
  if (root.GlassjaxGraphZoom && root.GlassjaxGraphZoom.version >= 2) return;

  var MIN_SCALE = 0.05, MAX_SCALE = 4, MIN_H = 160, MAX_H = 560, PX_PER_PT = 4 / 3;

  function naturalBox(svg) {
    var vb = svg.viewBox && svg.viewBox.baseVal;
    if (vb && vb.width > 0 && vb.height > 0) return [vb.x, vb.y, vb.width, vb.height];
    var w = parseFloat(svg.getAttribute("width")), h = parseFloat(svg.getAttribute("height"));
    return [0, 0, w > 0 ? w : 100, h > 0 ? h : 100];
  }

  function attach(box) {
    var svg = box && box.querySelector("svg");
    if (!svg) return null;
    if (box.__gjxZoom && box.__gjxZoom.svg === svg) return box.__gjxZoom;
    var nat = naturalBox(svg);
    /* user units are points: the drawing at 100% is nat[2] * 4/3 px wide */
    var st = {svg: svg, nat: nat, unit: 0, cx: nat[0] + nat[2] / 2, cy: nat[1] + nat[3] / 2,
              fitted: true, scale: 1, moved: false, lastSize: null};
    box.__gjxZoom = st;
    var pane = box.closest(".gj-pane") || box.parentNode;
    var label = pane.querySelector(".gjx-zoom-level");
    var height = Math.max(MIN_H, Math.min(MAX_H, nat[3] * PX_PER_PT + 8));
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.style.width = "100%";
    svg.style.height = height + "px";
    svg.style.maxWidth = "none";
    svg.style.cursor = "grab";
    svg.style.touchAction = "none";
    box.style.overflow = "hidden";
    box.setAttribute("data-zoom", "ready");

    /* the svg's laid-out size, or null while it is not laid out (a hidden tab, a
       collapsed output, a box not in the page yet) */
    function measure() {
      var r = svg.getBoundingClientRect();
      return r.width > 0 && r.height > 0 ? [r.width, r.height] : null;
    }

    function size() {
      return measure() || st.lastSize || [box.clientWidth || 600, height];
    }

    function apply() {
      var sz = size(), u = st.unit;
      if (!u) return;
      var w = sz[0] / u, h = sz[1] / u;
      svg.setAttribute("viewBox", [st.cx - w / 2, st.cy - h / 2, w, h].map(function (v) {
        return v.toFixed(2);
      }).join(" "));
      st.scale = u / PX_PER_PT;
      box.setAttribute("data-zoom-scale", st.scale.toFixed(3));
      box.setAttribute("data-zoom-fitted", st.fitted ? "true" : "false");
      if (label) label.textContent = Math.round(st.scale * 100) + "%";
    }

    /* Fit the drawing to the svg's size. Not laid out: show the whole drawing and fit
       once it is (a fit at a guessed size would be wrong the moment the tab opens). */
    function fit() {
      var sz = measure();
      st.fitted = true;
      if (!sz) {
        if (!st.unit) svg.setAttribute("viewBox", nat.join(" "));
        box.setAttribute("data-zoom-fitted", "true");
        return;
      }
      st.lastSize = sz;
      st.unit = Math.min(sz[0] / nat[2], sz[1] / nat[3], MAX_SCALE * PX_PER_PT) * 0.98;
      st.cx = nat[0] + nat[2] / 2;
      st.cy = nat[1] + nat[3] / 2;
      st.fitted = true;
      apply();
    }

    /* zoom by `factor`, keeping the point under (px, py) (pixels in the svg) still */
    function zoomBy(factor, px, py) {
      if (!st.unit) fit();
      if (!st.unit) return;  /* not laid out: nothing to zoom yet */
      var sz = size();
      if (px === undefined) { px = sz[0] / 2; py = sz[1] / 2; }
      var u = st.unit;
      var next = Math.max(MIN_SCALE * PX_PER_PT, Math.min(MAX_SCALE * PX_PER_PT, u * factor));
      var ux = st.cx + (px - sz[0] / 2) / u, uy = st.cy + (py - sz[1] / 2) / u;
      st.cx = ux - (px - sz[0] / 2) / next;
      st.cy = uy - (py - sz[1] / 2) / next;
      st.unit = next;
      st.fitted = false;
      apply();
    }

    function actual() {
      if (!measure()) return;
      st.unit = PX_PER_PT;
      st.fitted = false;
      apply();
    }

    st.fit = fit; st.zoomBy = zoomBy; st.actual = actual;

    var tools = pane.querySelector(".gjx-zoom-tools");
    if (tools) {
      tools.hidden = false;
      tools.onclick = function (ev) {
        var b = ev.target instanceof Element ? ev.target.closest("[data-gjx-zoom]") : null;
        var act = b && b.getAttribute("data-gjx-zoom");
        if (act === "in") zoomBy(1.25);
        else if (act === "out") zoomBy(0.8);
        else if (act === "fit") fit();
        else if (act === "one") actual();
      };
    }

    svg.addEventListener("wheel", function (ev) {
      if (!(ev.ctrlKey || ev.metaKey)) return;  /* a plain wheel scrolls the notebook */
      ev.preventDefault();
      var r = svg.getBoundingClientRect();
      zoomBy(Math.exp(-ev.deltaY * 0.002), ev.clientX - r.left, ev.clientY - r.top);
    }, {passive: false});

    var drag = null;
    /* Graphviz wraps nodes in <a> for their tooltips: a drag would drag the link */
    svg.addEventListener("dragstart", function (ev) { ev.preventDefault(); });
    svg.style.userSelect = "none";
    svg.addEventListener("pointerdown", function (ev) {
      if (ev.button !== 0 || !st.unit) return;
      drag = {x: ev.clientX, y: ev.clientY, cx: st.cx, cy: st.cy, id: ev.pointerId};
      st.moved = false;
    });
    svg.addEventListener("pointermove", function (ev) {
      if (!drag) return;
      var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
      if (!st.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!st.moved) {
        st.moved = true;
        svg.style.cursor = "grabbing";
        try { svg.setPointerCapture(drag.id); } catch (e) { /* already released */ }
      }
      st.cx = drag.cx - dx / st.unit;
      st.cy = drag.cy - dy / st.unit;
      st.fitted = false;
      apply();
    });
    function endDrag() {
      drag = null;
      svg.style.cursor = "grab";
    }
    svg.addEventListener("pointerup", endDrag);
    svg.addEventListener("pointercancel", endDrag);
    /* a drag ends with a click on whatever is under the pointer: keep it from the linker */
    svg.addEventListener("click", function (ev) {
      if (st.moved) { ev.stopPropagation(); ev.preventDefault(); st.moved = false; }
    }, true);

    box.addEventListener("keydown", function (ev) {
      if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
      var k = ev.key;
      if (k === "+" || k === "=") zoomBy(1.25);
      else if (k === "-" || k === "_") zoomBy(0.8);
      else if (k === "0") fit();
      else if (k === "1") actual();
      else return;
      ev.preventDefault();
      ev.stopPropagation();
    });

    /* pan to highlighted nodes that are out of view (the linker scrolls other panes) */
    var pending = false, shown = "";
    function reveal() {
      pending = false;
      var b = svg.getBoundingClientRect();
      if (!b.width || !st.unit) return;  /* hidden (another tab): nothing to pan */
      var els = svg.querySelectorAll("g.gj-sel, g.gj-hl");
      var sig = Array.prototype.map.call(els, function (e) { return e.id; }).join(" ");
      if (sig === shown) return;  /* hovering changes classes too: only new highlights */
      shown = sig;
      if (!els.length) return;
      for (var i = 0; i < els.length; i++) {
        var r = els[i].getBoundingClientRect();
        if (r.right > b.left && r.left < b.right && r.bottom > b.top && r.top < b.bottom) return;
      }
      var first = els[0].getBoundingClientRect();
      st.cx += ((first.left + first.right) / 2 - (b.left + b.right) / 2) / st.unit;
      st.cy += ((first.top + first.bottom) / 2 - (b.top + b.bottom) / 2) / st.unit;
      st.fitted = false;
      apply();
    }
    if (root.MutationObserver) {
      new MutationObserver(function () {
        if (!pending) { pending = true; root.requestAnimationFrame(reveal); }
      }).observe(svg, {attributes: true, attributeFilter: ["class"], subtree: true});
    }
    /* A new width keeps the user's zoom and centre (re-fit only while fitted). While
       the notebook scrolls JupyterLab delays these callbacks (up to a second), so one
       may come after a zoom: it reads the state as it is then, never the old one. */
    if (root.ResizeObserver) {
      var last = null;
      new ResizeObserver(function () {
        var sz = measure();
        if (!sz) return;  /* hidden or detached: wait until it is laid out again */
        var w = Math.round(sz[0]);
        if (w === last) return;
        last = w;
        st.lastSize = sz;
        if (st.fitted || !st.unit) fit(); else apply();
      }).observe(box);
    }
    fit();
    return st;
  }

  root.GlassjaxGraphZoom = {version: 2, attach: attach};
})(typeof window !== "undefined" ? window : this);
