/* Glassjax graph layout: DOT -> SVG in the browser with the bundled Graphviz (WASM),
   in a Web Worker, with a time budget. Nothing is fetched from the network.

     // source: the text of visualize.graph.graphviz_js(classic=True)
     var layout = GlassjaxGraphLayout.create(source, {timeoutMs: 20000});
     layout.render(dot).then(function (svgText) {...}, function (err) {...});
     layout.renderInto(container, dot, {idPrefix: "", members: {...}})  // -> Promise<svg>
     layout.dispose();
     GlassjaxGraphLayout.annotate(svgElement, {idPrefix, members})

   The worker is a classic worker made from a Blob URL: those run in file:// pages
   and in JupyterLab (module workers do not load from file://). A layout that runs
   past its budget is stopped by terminating the worker (WASM cannot be interrupted
   from inside); the promise rejects with a message saying what to do, and the next
   layout starts a fresh worker. Without Worker support, layouts run on the main
   thread, refusing graphs larger than `mainThreadMaxChars` of DOT.

   annotate() copies the ids Python gave the nodes into the attributes the pane
   linker reads: class gj-eqn + id eqn-<id> -> data-eqn="<id>", gj-hlo-opt +
   hloopt-<name> -> data-hlo-opt, gj-hlo + hlo-<name> -> data-hlo; a closed group
   or block also gets data-members="<ids inside, space-separated>" when `members`
   (GraphView.members) is given. */
(function (root) {
  "use strict";
  if (root.GlassjaxGraphLayout && root.GlassjaxGraphLayout.version >= 1) return;

  var WORKER_MAIN = [
    "var gjReady = null;",
    "self.onmessage = function (ev) {",
    "  var msg = ev.data;",
    "  if (!gjReady) gjReady = GlassjaxGraphviz.Graphviz.load();",
    "  gjReady.then(function (gv) {",
    "    var t0 = Date.now();",
    "    var svg = gv.layout(msg.dot, 'svg', msg.engine || 'dot');",
    "    self.postMessage({id: msg.id, svg: svg, ms: Date.now() - t0});",
    "  }).catch(function (e) {",
    "    self.postMessage({id: msg.id, error: String((e && e.message) || e)});",
    "  });",
    "};"
  ].join("\n");

  var KINDS = [["gj-eqn", "eqn-", "data-eqn"],
               ["gj-hlo-opt", "hloopt-", "data-hlo-opt"],
               ["gj-hlo", "hlo-", "data-hlo"]];

  function annotate(svg, opts) {
    opts = opts || {};
    var prefix = opts.idPrefix || "", members = opts.members || {};
    var els = svg.querySelectorAll("g.node, g.cluster");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], id = el.getAttribute("id") || "";
      if (id.lastIndexOf(prefix, 0) !== 0) continue;
      var key = id.slice(prefix.length);
      var classes = " " + (el.getAttribute("class") || "") + " ";
      for (var k = 0; k < KINDS.length; k++) {
        var kind = KINDS[k];
        if (classes.indexOf(" " + kind[0] + " ") < 0 || key.lastIndexOf(kind[1], 0) !== 0) continue;
        var name = key.slice(kind[1].length);
        if (name.indexOf(":") < 0) el.setAttribute(kind[2], name);  // ":" marks helpers
        break;
      }
      if (members[key]) el.setAttribute("data-members", members[key].join(" "));
    }
    return svg;
  }

  function budgetMessage(ms) {
    return "Gave up laying out this graph after " + +(ms / 1000).toFixed(1) + " s. " +
      "Collapse more of it, or show the neighbourhood of one node.";
  }

  function create(source, options) {
    options = options || {};
    var defaultBudget = options.timeoutMs || 20000;
    var mainThreadMaxChars = options.mainThreadMaxChars || 150000;
    var worker = null, workerUrl = null, queue = [], busy = null, seq = 0;
    var mainThreadGv = null;
    var useWorker = typeof Worker !== "undefined" && typeof Blob !== "undefined" &&
      typeof URL !== "undefined" && !options.mainThread;

    function kill() {
      if (worker) { worker.terminate(); worker = null; }
    }

    function startWorker() {
      if (workerUrl === null)
        workerUrl = URL.createObjectURL(new Blob([source, "\n", WORKER_MAIN],
                                                 {type: "text/javascript"}));
      worker = new Worker(workerUrl);
      worker.onmessage = function (ev) { finish(ev.data.id, ev.data.error, ev.data.svg); };
      worker.onerror = function (ev) {
        if (ev && ev.preventDefault) ev.preventDefault();
        var b = busy;
        kill();
        if (b) finish(b.id, "Graph layout failed: " + ((ev && ev.message) || "worker error"));
      };
    }

    function finish(id, error, svg) {
      if (!busy || busy.id !== id) return;
      var b = busy;
      busy = null;
      clearTimeout(b.timer);
      if (error) b.reject(new Error(error)); else b.resolve(svg);
      pump();
    }

    function runOnMainThread(job) {
      if (job.dot.length > mainThreadMaxChars) {
        job.reject(new Error("This graph is too large to lay out without a Web Worker. " +
                             "Collapse more of it, or show the neighbourhood of one node."));
        return;
      }
      try {
        if (!mainThreadGv) {
          var mod = new Function(source + "\nreturn GlassjaxGraphviz;")();
          mainThreadGv = mod.Graphviz.load();
        }
      } catch (e) {
        job.reject(new Error("Graph layout is unavailable here: " + ((e && e.message) || e)));
        return;
      }
      mainThreadGv.then(function (gv) {
        job.resolve(gv.layout(job.dot, "svg", job.engine));
      }).catch(function (e) { job.reject(new Error(String((e && e.message) || e))); });
    }

    function pump() {
      if (busy || !queue.length) return;
      var job = queue.shift();
      if (!useWorker) { runOnMainThread(job); pump(); return; }
      busy = job;
      try {
        if (!worker) startWorker();
      } catch (e) {  // e.g. a page policy that forbids blob: workers
        useWorker = false;
        busy = null;
        runOnMainThread(job);
        pump();
        return;
      }
      job.timer = setTimeout(function () {
        if (busy !== job) return;
        kill();
        finish(job.id, budgetMessage(job.timeoutMs));
      }, job.timeoutMs);
      worker.postMessage({id: job.id, dot: job.dot, engine: job.engine});
    }

    function render(dot, opts) {
      opts = opts || {};
      return new Promise(function (resolve, reject) {
        queue.push({id: ++seq, dot: String(dot), engine: opts.engine || "dot",
                    timeoutMs: opts.timeoutMs || defaultBudget,
                    resolve: resolve, reject: reject});
        pump();
      });
    }

    function renderInto(container, dot, opts) {
      opts = opts || {};
      return render(dot, opts).then(function (text) {
        var doc = new DOMParser().parseFromString(text, "image/svg+xml");
        if (doc.getElementsByTagName("parsererror").length)
          throw new Error("Graph layout returned SVG that does not parse");
        var svg = document.importNode(doc.documentElement, true);
        annotate(svg, opts);
        while (container.firstChild) container.removeChild(container.firstChild);
        container.appendChild(svg);
        return svg;
      }, function (err) {
        var msg = document.createElement("div");
        msg.className = "gj-graph-error";
        msg.textContent = err.message;
        while (container.firstChild) container.removeChild(container.firstChild);
        container.appendChild(msg);
        throw err;
      });
    }

    function dispose() {
      kill();
      if (workerUrl !== null) { URL.revokeObjectURL(workerUrl); workerUrl = null; }
      var pending = queue.concat(busy ? [busy] : []);
      queue = [];
      busy = null;
      pending.forEach(function (j) {
        clearTimeout(j.timer);
        j.reject(new Error("Graph layout was closed"));
      });
    }

    return {render: render, renderInto: renderInto, dispose: dispose};
  }

  var api = {version: 1, create: create, annotate: annotate};
  root.GlassjaxGraphLayout = api;
  if (typeof module !== "undefined" && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
