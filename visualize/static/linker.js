/* Glassjax pane linker: a click (or Enter) on a line, equation, op or instruction
   highlights its partners in every pane; hovering previews them. The link table is
   the JSON script element of class gj-links inside the root.
   Table (see visualize/render_html.py, link_table):
     lines:   {"file:line": [eqn ids]}
     eqns:    {eqn id: {l: "file:line", m: [op ids], h: [...], hk: [...], o: [...], ok: [...]}}
     mlir:    {op id: [eqn ids]}
     hlo, hlo_opt: {instruction: {e: [eqn ids], k: [kernels], c: [called computations]}}
     why:     {eqn id: reason it has no optimized partner}                              */
(function () {
  "use strict";
  if (window.GlassjaxLinker && window.GlassjaxLinker.version >= 1) return;

  var ATTR = {source: "data-line", jaxpr: "data-eqn", mlir: "data-mlir",
              hlo: "data-hlo", hlo_opt: "data-hlo-opt"};
  var KINDS = ["source", "jaxpr", "mlir", "hlo", "hlo_opt"];
  var SELECTOR = KINDS.map(function (k) { return "[" + ATTR[k] + "]"; }).join(",");
  var WHY = {dead: "its result is never used; XLA removed it",
             no_ops: "its lowering emitted no op",
             no_metadata: "XLA kept no instruction naming it"};

  function Linker(root) {
    this.root = root;
    var node = root.querySelector("script.gj-links");
    var table = {};
    try { table = node ? JSON.parse(node.textContent) : {}; } catch (e) { table = {}; }
    this.t = table;
    this.eqnIds = Object.keys(table.eqns || {});
    this.panes = {};
    this.index = {};
    var panes = root.querySelectorAll(".gj-pane[data-kind]");
    for (var i = 0; i < panes.length; i++) {
      var kind = panes[i].getAttribute("data-kind");
      if (!ATTR[kind]) continue;
      this.panes[kind] = this.panes[kind] || [];
      this.panes[kind].push(panes[i]);
    }
    this.marked = {sel: [], hl: [], hv: [], vh: [], inner: []};
    this.current = null;
    this.cursor = null;
  }

  Linker.prototype.elements = function (kind, key) {
    var idx = this.index[kind];
    if (!idx) {
      idx = this.index[kind] = new Map();
      var panes = this.panes[kind] || [];
      for (var p = 0; p < panes.length; p++) {
        var els = panes[p].querySelectorAll("[" + ATTR[kind] + "]");
        for (var i = 0; i < els.length; i++) {
          var k = els[i].getAttribute(ATTR[kind]);
          var list = idx.get(k);
          if (!list) idx.set(k, list = []);
          list.push(els[i]);
        }
      }
    }
    return idx.get(key) || [];
  };

  Linker.prototype.describe = function (el) {
    var pane = el.closest(".gj-pane[data-kind]");
    if (!pane) return null;
    var kind = pane.getAttribute("data-kind");
    if (!ATTR[kind]) return null;
    return {kind: kind, key: el.getAttribute(ATTR[kind]), pane: pane};
  };

  function add(set, items) {
    if (items == null) return;
    if (typeof items === "string") { set.add(items); return; }
    for (var i = 0; i < items.length; i++) if (items[i] != null) set.add(items[i]);
  }

  /* The equations an element stands for: the hub every link goes through. */
  Linker.prototype.eqnsOf = function (kind, key) {
    var t = this.t, out = [];
    if (kind === "source") return (t.lines || {})[key] || [];
    if (kind === "jaxpr") {
      out.push(key);
      var prefix = key + "_";
      for (var i = 0; i < this.eqnIds.length; i++)
        if (this.eqnIds[i].lastIndexOf(prefix, 0) === 0) out.push(this.eqnIds[i]);
      return out;
    }
    if (kind === "mlir") return (t.mlir || {})[key] || [];
    var entry = (t[kind] || {})[key];
    return entry && entry.e ? entry.e : [];
  };

  Linker.prototype.partners = function (kind, key) {
    var res = {};
    KINDS.forEach(function (k) { res[k] = new Set(); });
    var eqns = this.eqnsOf(kind, key), t = this.t.eqns || {};
    for (var i = 0; i < eqns.length; i++) {
      var e = t[eqns[i]];
      res.jaxpr.add(eqns[i]);
      if (!e) continue;
      add(res.source, e.l);
      add(res.mlir, e.m);
      add(res.hlo, e.h); add(res.hlo, e.hk);
      add(res.hlo_opt, e.o); add(res.hlo_opt, e.ok);
    }
    if (kind === "hlo" || kind === "hlo_opt") {
      /* In its own pane an instruction shows itself, the kernel running it and what it
         calls (a fusion's body), not every instruction sharing one of its equations. */
      var own = new Set([key]);
      var entry = (this.t[kind] || {})[key] || {};
      add(own, entry.k);
      var self = this;
      (entry.c || []).forEach(function (comp) {
        (self.panes[kind] || []).forEach(function (pane) {
          var block = pane.querySelector('details[data-comp="' + cssEscape(comp) + '"]');
          if (!block) return;
          var els = block.querySelectorAll("[" + ATTR[kind] + "]");
          for (var j = 0; j < els.length; j++) own.add(els[j].getAttribute(ATTR[kind]));
        });
      });
      res[kind] = own;
    } else if (kind === "source") {
      res.source = new Set([key]);
    }
    return res;
  };

  function cssEscape(s) {
    return window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&");
  }

  Linker.prototype.clear = function (what) {
    var cls = "gj-" + what, list = this.marked[what];
    for (var i = 0; i < list.length; i++) list[i].classList.remove(cls);
    this.marked[what] = [];
  };

  Linker.prototype.mark = function (what, el) {
    el.classList.add("gj-" + what);
    this.marked[what].push(el);
  };

  Linker.prototype.apply = function (what, res, origin) {
    this.clear(what);
    var counts = {};
    for (var k in res) {
      counts[k] = 0;
      var self = this;
      res[k].forEach(function (key) {
        var els = self.elements(k, key);
        for (var i = 0; i < els.length; i++) {
          if (what === "hl" && els[i] === origin) continue;
          self.mark(what, els[i]);
          counts[k] += 1;
        }
      });
    }
    return counts;
  };

  Linker.prototype.markCollapsed = function () {
    this.clear("inner");
    var seen = new Set(), list = this.marked.hl.concat(this.marked.sel);
    for (var i = 0; i < list.length; i++) {
      var d = list[i].parentElement && list[i].parentElement.closest("details:not([open])");
      while (d && !seen.has(d)) {
        seen.add(d);
        this.mark("inner", d);
        d = d.parentElement && d.parentElement.closest("details:not([open])");
      }
    }
  };

  Linker.prototype.select = function (el) {
    var d = this.describe(el);
    if (!d) return;
    if (this.current === el) { this.reset(); return; }
    this.reset();
    this.current = el;
    var res = this.partners(d.kind, d.key);
    this.mark("sel", el);
    var counts = this.apply("hl", res, el);
    this.markCollapsed();
    this.status(d, counts);
    this.reveal(d.pane);
  };

  Linker.prototype.reset = function () {
    this.clear("sel"); this.clear("hl"); this.clear("inner");
    this.current = null;
    var heads = this.root.querySelectorAll(".gj-count,.gj-tab-count");
    for (var i = 0; i < heads.length; i++) heads[i].textContent = "";
  };

  Linker.prototype.status = function (d, counts) {
    var why = null;
    if (d.kind === "jaxpr" || d.kind === "source") {
      var eqns = this.eqnsOf(d.kind, d.key), w = this.t.why || {};
      var reasons = eqns.map(function (e) { return w[e]; }).filter(Boolean);
      if (reasons.length && reasons.length === eqns.length) why = WHY[reasons[0]] || reasons[0];
    } else if (d.kind === "hlo" || d.kind === "hlo_opt") {
      var entry = (this.t[d.kind] || {})[d.key];
      if (!entry || !(entry.e || []).length) why = "made by XLA: no metadata names an equation";
    } else if (d.kind === "mlir" && !((this.t.mlir || {})[d.key] || []).length) {
      why = "no equation tag (e.g. a return)";
    }
    var all = Array.prototype.slice.call(this.root.querySelectorAll(".gj-panes > .gj-pane"));
    var tabs = this.root.querySelectorAll(".gj-tab .gj-tab-count");
    for (var k in this.panes) {
      for (var p = 0; p < this.panes[k].length; p++) {
        var pane = this.panes[k][p], head = pane.querySelector(".gj-count"), text;
        if (k === d.kind && pane === d.pane) text = "selected";
        else if (counts[k]) text = counts[k] + " linked";
        else text = why ? "no partner: " + why : "no partner";
        if (head) head.textContent = text;
        var i = all.indexOf(pane);
        if (i >= 0 && tabs[i]) tabs[i].textContent = text === "selected" ? "\u25cf" : (counts[k] ? String(counts[k]) : "0");
      }
    }
  };

  /* Scroll each other pane (its own scroll box only, never the page) to its first partner. */
  Linker.prototype.reveal = function (origin) {
    var done = new Set([origin]);
    var list = this.marked.hl;
    for (var i = 0; i < list.length; i++) {
      var pane = list[i].closest(".gj-pane");
      if (!pane || done.has(pane)) continue;
      var box = pane.querySelector(".gj-code");
      var target = list[i];
      if (!target.offsetParent) {
        var d = target.closest("details:not([open])");
        while (d && d.parentElement && d.parentElement.closest("details:not([open])"))
          d = d.parentElement.closest("details:not([open])");
        target = d ? d.querySelector("summary") || d : target;
      }
      if (!box || !target.offsetParent) continue;
      done.add(pane);
      scrollWithin(box, target);
    }
  };

  function scrollWithin(box, el) {
    var b = box.getBoundingClientRect(), r = el.getBoundingClientRect();
    if (r.top < b.top || r.bottom > b.bottom)
      box.scrollTop += r.top - b.top - box.clientHeight / 3;
    if (r.left < b.left || r.left > b.right - 40)
      box.scrollLeft = Math.max(0, box.scrollLeft + r.left - b.left - 20);
  }

  Linker.prototype.hover = function (el) {
    if (el === this.hovered) return;
    this.hovered = el;
    if (!el) { this.clear("hv"); return; }
    var d = this.describe(el);
    if (!d) { this.clear("hv"); return; }
    this.apply("hv", this.partners(d.kind, d.key), null);
  };

  Linker.prototype.hoverVar = function (span) {
    if (span === this.hoveredVar) return;
    this.hoveredVar = span;
    this.clear("vh");
    if (!span) return;
    var code = span.closest(".gj-code");
    if (!code) return;
    if (!code.__gjVars) {
      var m = new Map(), vs = code.querySelectorAll(".gj-v,.gj-def");
      for (var i = 0; i < vs.length; i++) {
        var k = vs[i].textContent, l = m.get(k);
        if (!l) m.set(k, l = []);
        l.push(vs[i]);
      }
      code.__gjVars = m;
    }
    var same = code.__gjVars.get(span.textContent) || [];
    for (var j = 0; j < same.length; j++) this.mark("vh", same[j]);
  };

  Linker.prototype.follow = function (a) {
    var id = a.getAttribute("href").slice(1);
    var target = id && this.root.querySelector('[id="' + cssEscape(id) + '"]');
    if (!target) return;
    for (var d = target; d; d = d.parentElement && d.parentElement.closest("details")) {
      if (d.tagName === "DETAILS") d.open = true;
    }
    var box = target.closest(".gj-code");
    var head = target.querySelector("summary") || target;
    if (box) scrollWithin(box, head);
    head.classList.remove("gj-flash");
    void head.offsetWidth;
    head.classList.add("gj-flash");
  };

  Linker.prototype.visibleItems = function (box) {
    var all = box.querySelectorAll(SELECTOR), out = [];
    for (var i = 0; i < all.length; i++) if (all[i].offsetParent) out.push(all[i]);
    return out;
  };

  Linker.prototype.moveCursor = function (box, step) {
    var items = this.visibleItems(box);
    if (!items.length) return;
    var i = items.indexOf(this.cursor);
    i = i < 0 ? (step > 0 ? 0 : items.length - 1) : Math.min(items.length - 1, Math.max(0, i + step));
    this.setCursor(items[i]);
    scrollWithin(box, items[i]);
  };

  Linker.prototype.setCursor = function (el) {
    if (this.cursor) this.cursor.classList.remove("gj-cur");
    this.cursor = el;
    if (el) { el.classList.add("gj-cur"); this.hover(el); }
  };

  Linker.prototype.activateTab = function (index) {
    var tabs = this.root.querySelectorAll(".gj-tab");
    var panes = this.root.querySelectorAll(".gj-panes > .gj-pane");
    for (var i = 0; i < panes.length; i++) panes[i].classList.toggle("gj-active", i === index);
    for (var j = 0; j < tabs.length; j++) {
      tabs[j].setAttribute("aria-selected", j === index ? "true" : "false");
      tabs[j].tabIndex = j === index ? 0 : -1;
    }
  };

  Linker.prototype.bind = function () {
    var self = this, root = this.root;
    root.addEventListener("click", function (ev) {
      var t = ev.target;
      if (!(t instanceof Element)) return;
      var btn = t.closest("[data-gj-act]");
      if (btn && root.contains(btn)) { self.action(btn); return; }
      var tab = t.closest(".gj-tab");
      if (tab) { self.activateTab(+tab.getAttribute("data-tab")); return; }
      var ref = t.closest("a.gj-ref");
      if (ref) { ev.preventDefault(); self.follow(ref); return; }
      if (t.closest(".gj-tog")) return;               /* the disclosure marker toggles */
      var el = t.closest(SELECTOR);
      if (!el || !root.contains(el)) return;
      if (t.closest("summary")) ev.preventDefault();  /* text in a summary selects */
      self.select(el);
    });
    root.addEventListener("mouseover", function (ev) {
      var t = ev.target instanceof Element ? ev.target : null;
      var el = t && t.closest(SELECTOR);
      self.hover(el && root.contains(el) ? el : null);
      var v = t && t.closest(".gj-v,.gj-def");
      self.hoverVar(v);
    });
    root.addEventListener("mouseleave", function () { self.hover(null); self.hoverVar(null); });
    root.addEventListener("keydown", function (ev) {
      var t = ev.target;
      if (t.classList && t.classList.contains("gj-tab")) {
        var tabs = Array.prototype.slice.call(root.querySelectorAll(".gj-tab"));
        var i = tabs.indexOf(t);
        if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
          var n = (i + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
          self.activateTab(n); tabs[n].focus(); ev.preventDefault();
        }
        return;
      }
      var box = t.closest && t.closest(".gj-code");
      if (!box || t.tagName === "SUMMARY") {
        if (ev.key === "Escape") self.reset();
        return;
      }
      var k = ev.key;
      if (k === "ArrowDown" || k === "j") { self.moveCursor(box, 1); ev.preventDefault(); }
      else if (k === "ArrowUp" || k === "k") { self.moveCursor(box, -1); ev.preventDefault(); }
      else if ((k === "Enter" || k === " ") && self.cursor) { self.select(self.cursor); ev.preventDefault(); }
      else if (k === "Escape") { self.reset(); self.setCursor(null); self.hover(null); }
      else if ((k === "ArrowRight" || k === "ArrowLeft") && self.cursor) {
        var det = self.cursor.querySelector("details") || self.cursor.closest("details");
        if (det) { det.open = k === "ArrowRight"; ev.preventDefault(); }
      }
    });
  };

  Linker.prototype.action = function (btn) {
    var act = btn.getAttribute("data-gj-act");
    var pane = btn.closest(".gj-pane");
    var box = pane && pane.querySelector(".gj-code");
    if (!box) return;
    if (act === "expand" || act === "collapse") {
      var ds = box.querySelectorAll("details");
      for (var i = 0; i < ds.length; i++) ds[i].open = act === "expand";
      this.markCollapsed();
    } else if (act === "meta") {
      box.classList.toggle("gj-hide-meta");
      btn.setAttribute("aria-pressed", box.classList.contains("gj-hide-meta") ? "false" : "true");
    } else if (act === "entry") {
      var entry = box.querySelector("details.gj-entry");
      if (entry) { entry.open = true; scrollWithin(box, entry.querySelector("summary") || entry); }
    }
  };

  function init(root) {
    if (!root || root.__gjLinker) return root && root.__gjLinker;
    var l = new Linker(root);
    root.__gjLinker = l;
    root.classList.add("gj-js");
    l.bind();
    if (root.querySelector(".gj-tab")) l.activateTab(0);
    return l;
  }

  window.GlassjaxLinker = {version: 1, init: init};
})();
