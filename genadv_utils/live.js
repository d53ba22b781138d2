// Generative Adventures: live widgets (genadv_utils/live.py writes the configuration).
// Each <div class="genadv-live"> holds a JSON configuration; when the widget first scrolls
// into view, this script loads onnxruntime-web (WebAssembly, one thread) and the widget's
// ONNX networks, then draws into <canvas> elements. The same code runs in the book's pages
// and in Jupyter or Colab output cells. Tests reach each widget through element.genadvLive.
(function () {
  "use strict";
  const G = (window.genadvLive = window.genadvLive || {});
  if (G.scan) { G.scan(); return; }

  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                   "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const SIDE = 28, PIXELS = SIDE * SIDE;

  // ---------- plumbing: addresses, runtime, sessions, numbers ----------
  function siteRoot() {
    const root = document.documentElement.getAttribute("data-content_root");
    return new URL(root === null ? "./" : root, document.baseURI).href;
  }
  function resolve(source) {
    return source.startsWith("site:") ? siteRoot() + source.slice(5) : source;
  }
  function loadRuntime(url) {
    if (!G.runtime) {
      G.runtime = new Promise(function (done, fail) {
        function ready() {
          window.ort.env.wasm.numThreads = 1;  // no SharedArrayBuffer, no special headers
          window.ort.env.wasm.wasmPaths = url;
          done(window.ort);
        }
        if (window.ort) { ready(); return; }
        const script = document.createElement("script");
        script.src = url + "ort.wasm.min.js";
        script.onload = ready;
        script.onerror = function () { fail(new Error("the ONNX runtime did not load from " + url)); };
        document.head.appendChild(script);
      });
    }
    return G.runtime;
  }
  function bytes(b64) {
    const text = atob(b64), out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }
  function floats(b64) { return new Float32Array(bytes(b64).buffer); }
  function ints(b64) { return new Int32Array(bytes(b64).buffer); }
  function unit(b64) { return Float32Array.from(bytes(b64), function (v) { return v / 255; }); }

  function Model(ort, session) {
    let queue = Promise.resolve();
    // One run at a time per session; returns the output as a Float32Array.
    this.run = function (data, dims) {
      const next = queue.then(async function () {
        const feeds = {};
        feeds[session.inputNames[0]] = new ort.Tensor("float32", data, dims);
        const out = await session.run(feeds);
        return out[session.outputNames[0]].data;
      });
      queue = next.catch(function () {});
      return next;
    };
  }

  function random(seed) {  // mulberry32: a small seeded generator, uniform in [0, 1)
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function normals(n, uniform) {  // Box-Muller
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(1 - uniform())), a = 2 * Math.PI * uniform();
      out[i] = r * Math.cos(a);
      if (i + 1 < n) out[i + 1] = r * Math.sin(a);
    }
    return out;
  }
  function lerp(a, b, t) { return a.map(function (v, i) { return (1 - t) * v + t * b[i]; }); }
  function slerp(a, b, t) {  // as genadv_utils.latent.slerp
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    const cos = dot / Math.max(Math.sqrt(na * nb), 1e-12);
    const omega = Math.acos(Math.min(1, Math.max(-1, cos)));
    if (Math.abs(omega) < 1e-4) return lerp(a, b, t);
    const s = Math.sin(omega), wa = Math.sin((1 - t) * omega) / s, wb = Math.sin(t * omega) / s;
    return a.map(function (v, i) { return wa * v + wb * b[i]; });
  }
  function psnr(x, y) {
    let mse = 0;
    for (let i = 0; i < x.length; i++) mse += (x[i] - y[i]) * (x[i] - y[i]);
    mse /= x.length;
    return mse > 0 ? 10 * Math.log10(1 / mse) : Infinity;
  }

  // ---------- drawing ----------
  function el(tag, attrs, parent) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function (kv) {
      if (kv[0] === "text") node.textContent = kv[1]; else node.setAttribute(kv[0], kv[1]);
    });
    if (parent) parent.appendChild(node);
    return node;
  }
  function figure(parent, label, width, height) {
    const box = el("figure", {"class": "genadv-live-figure", style: "max-width:" + width + "px"}, parent);
    const canvas = el("canvas", {width: width, height: height || width, role: "img", "aria-label": label}, box);
    const caption = el("figcaption", {text: label}, box);
    return {canvas: canvas, caption: caption};
  }
  // Draw n images of 28 x 28 values in [0, 1] (white on black) as a grid of `columns`.
  function drawImages(canvas, values, n, columns) {
    const rows = Math.ceil(n / columns), gap = 1;
    const w = columns * (SIDE + gap) - gap, h = rows * (SIDE + gap) - gap;
    const small = document.createElement("canvas");
    small.width = w; small.height = h;
    const ctx = small.getContext("2d"), image = ctx.createImageData(w, h);
    for (let k = 0; k < n; k++) {
      const ox = (k % columns) * (SIDE + gap), oy = Math.floor(k / columns) * (SIDE + gap);
      for (let p = 0; p < PIXELS; p++) {
        const v = Math.round(255 * Math.min(1, Math.max(0, values[k * PIXELS + p])));
        const q = 4 * ((oy + Math.floor(p / SIDE)) * w + ox + (p % SIDE));
        image.data[q] = image.data[q + 1] = image.data[q + 2] = v;
        image.data[q + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    const out = canvas.getContext("2d");
    out.imageSmoothingEnabled = false;
    out.fillStyle = "#888";
    out.fillRect(0, 0, canvas.width, canvas.height);
    out.drawImage(small, 0, 0, canvas.width, canvas.height);
  }
  function controls(root) { return el("div", {"class": "genadv-live-controls"}, root); }
  function button(parent, text) { return el("button", {type: "button", text: text}, parent); }
  function slider(parent, label, min, max, step, value) {
    const wrap = el("label", {}, parent);
    wrap.appendChild(document.createTextNode(label + " "));
    const input = el("input", {type: "range", min: min, max: max, step: step, value: value}, wrap);
    const shown = el("span", {"class": "genadv-live-value", text: String(value)}, wrap);
    input.addEventListener("input", function () { shown.textContent = input.value; });
    return input;
  }
  function select(parent, label, options, value) {
    const wrap = el("label", {}, parent);
    wrap.appendChild(document.createTextNode(label + " "));
    const input = el("select", {}, wrap);
    options.forEach(function (o, i) {
      const option = el("option", {value: String(i), text: o}, input);
      if (i === value) option.selected = true;
    });
    return input;
  }
  // Calls draw() at most once per animation frame, however often it is asked for.
  function throttled(draw) {
    let pending = false, running = Promise.resolve();
    return function () {
      if (pending) return running;
      pending = true;
      running = new Promise(function (done) {
        requestAnimationFrame(function () { pending = false; Promise.resolve(draw()).then(done, done); });
      });
      return running;
    };
  }

  // ---------- the widgets ----------
  const KINDS = {};

  // Chapter 1: draw (or pick) a digit, corrupt it, denoise it with the DAE, with PCA and (when
  // the page exported one) with the Wiener filter fitted for the training noise.
  KINDS.denoise = function (root, cfg, models) {
    const images = unit(cfg.images), count = images.length / PIXELS;
    let clean = images.slice(0, PIXELS), pick = 0;
    const row = el("div", {"class": "genadv-live-row"}, root);
    const pad = figure(row, "your digit (draw here)", 140);
    const noisy = figure(row, "corrupted", 140);
    const dae = figure(row, "DAE", 140);
    const pca = figure(row, "PCA (k = " + cfg.pca_k + ")", 140);
    const wiener = models.wiener ? figure(row, "Wiener filter", 140) : null;
    const bar = controls(root);
    const next = button(bar, "Next test digit"), clear = button(bar, "Clear");
    const kinds = ["gaussian", "salt-and-pepper", "masking"];
    const kind = select(bar, "noise", kinds, Math.max(0, kinds.indexOf(cfg.noise)));
    const level = slider(bar, "level", 0, 1, 0.05, cfg.level);
    const seed = 7;
    function corrupt(x) {
      const u = random(seed), p = Number(level.value), out = new Float32Array(PIXELS);
      const name = kinds[Number(kind.value)];
      const eps = name === "gaussian" ? normals(PIXELS, random(seed + 1)) : null;
      for (let i = 0; i < PIXELS; i++) {
        if (name === "gaussian") out[i] = Math.min(1, Math.max(0, x[i] + p * eps[i]));
        else if (name === "salt-and-pepper") { const hit = u() < p, salt = u() < 0.5; out[i] = hit ? (salt ? 1 : 0) : x[i]; }
        else out[i] = u() < p ? 0 : x[i];
      }
      return out;
    }
    const update = throttled(async function () {
      const x = corrupt(clean);
      drawImages(pad.canvas, clean, 1, 1);
      drawImages(noisy.canvas, x, 1, 1);
      noisy.caption.textContent = "corrupted: PSNR " + psnr(x, clean).toFixed(1) + " dB";
      const answers = await Promise.all([models.autoencoder.run(x, [1, 1, SIDE, SIDE]),
                                         models.pca.run(x, [1, 1, SIDE, SIDE]),
                                         wiener ? models.wiener.run(x, [1, 1, SIDE, SIDE]) : null]);
      drawImages(dae.canvas, answers[0], 1, 1);
      drawImages(pca.canvas, answers[1], 1, 1);
      dae.caption.textContent = "DAE: PSNR " + psnr(answers[0], clean).toFixed(1) + " dB";
      pca.caption.textContent = "PCA (k = " + cfg.pca_k + "): PSNR " + psnr(answers[1], clean).toFixed(1) + " dB";
      if (wiener) {
        drawImages(wiener.canvas, answers[2], 1, 1);
        wiener.caption.textContent = "Wiener: PSNR " + psnr(answers[2], clean).toFixed(1) + " dB";
      }
    });
    // A soft round brush, about as thick as MNIST's strokes, dragged along the pointer's path.
    let last = null;
    function dab(cx, cy) {
      for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) {
        const d2 = (x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy);
        const v = Math.min(1, 1.6 * Math.exp(-d2 / 2.2));
        if (v > clean[y * SIDE + x]) clean[y * SIDE + x] = v;
      }
    }
    function paint(event) {
      const box = pad.canvas.getBoundingClientRect();
      const p = [(event.clientX - box.left) / box.width * SIDE, (event.clientY - box.top) / box.height * SIDE];
      const from = last || p, steps = Math.max(1, Math.ceil(2 * Math.hypot(p[0] - from[0], p[1] - from[1])));
      for (let k = 1; k <= steps; k++) dab(from[0] + (p[0] - from[0]) * k / steps, from[1] + (p[1] - from[1]) * k / steps);
      last = p;
      update();
    }
    let drawing = false, fresh = true;  // the first stroke on a test digit starts a new drawing
    pad.canvas.style.cursor = "crosshair";
    pad.canvas.style.touchAction = "none";
    pad.canvas.addEventListener("pointerdown", function (e) {
      if (fresh) { clean = new Float32Array(PIXELS); fresh = false; }
      drawing = true; last = null; paint(e);
    });
    pad.canvas.addEventListener("pointermove", function (e) { if (drawing) paint(e); });
    window.addEventListener("pointerup", function () { drawing = false; last = null; });
    next.addEventListener("click", function () {
      pick = (pick + 1) % count; clean = images.slice(pick * PIXELS, (pick + 1) * PIXELS);
      fresh = true; update();
    });
    clear.addEventListener("click", function () { clean = new Float32Array(PIXELS); fresh = false; update(); });
    kind.addEventListener("change", update);
    level.addEventListener("input", update);
    return update();
  };

  // Chapter 2: the 2-D latent plane; the decoder's image of the code under the pointer, and a
  // linear or spherical walk between two test digits' codes.
  KINDS.latent = function (root, cfg, models) {
    const codes = floats(cfg.codes), labels = ints(cfg.labels), n = labels.length;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < codes.length; i++) { lo = Math.min(lo, codes[i]); hi = Math.max(hi, codes[i]); }
    const reach = 1.05 * Math.max(Math.abs(lo), Math.abs(hi));
    const row = el("div", {"class": "genadv-live-row"}, root);
    const plane = figure(row, "test codes, coloured by class", 320);
    const shown = figure(row, "decoded", 168);
    const legend = el("div", {"class": "genadv-live-legend"}, row);
    cfg.classes.forEach(function (name, c) {
      const item = el("div", {}, legend);
      el("span", {"class": "genadv-live-swatch", style: "background:" + PALETTE[c % 10]}, item);
      item.appendChild(document.createTextNode(name));
    });
    const bar = controls(root);
    const from = select(bar, "from", cfg.classes, 1 % cfg.classes.length);
    const to = select(bar, "to", cfg.classes, 8 % cfg.classes.length);
    const path = select(bar, "path", ["linear", "spherical"], 1);
    const t = slider(bar, "t", 0, 1, 0.01, 0);
    let point = [0, 0];
    function toPixel(z) { return [(z[0] / reach + 1) / 2 * plane.canvas.width, (1 - z[1] / reach) / 2 * plane.canvas.height]; }
    function end(select) { const i = cfg.ends[Number(select.value)]; return [codes[2 * i], codes[2 * i + 1]]; }
    function walk(s) { const a = end(from), b = end(to); return Number(path.value) === 1 ? slerp(a, b, s) : lerp(a, b, s); }
    function drawPlane() {
      const ctx = plane.canvas.getContext("2d"), W = plane.canvas.width;
      ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, W, W);
      ctx.strokeStyle = "#ccc"; ctx.beginPath(); ctx.moveTo(W / 2, 0); ctx.lineTo(W / 2, W); ctx.moveTo(0, W / 2); ctx.lineTo(W, W / 2); ctx.stroke();
      for (let i = 0; i < n; i++) {
        const p = toPixel([codes[2 * i], codes[2 * i + 1]]);
        ctx.fillStyle = PALETTE[labels[i] % 10];
        ctx.fillRect(p[0] - 1.5, p[1] - 1.5, 3, 3);
      }
      ctx.strokeStyle = "#000"; ctx.lineWidth = 2; ctx.beginPath();
      for (let k = 0; k <= 50; k++) { const p = toPixel(walk(k / 50)); if (k) ctx.lineTo(p[0], p[1]); else ctx.moveTo(p[0], p[1]); }
      ctx.stroke(); ctx.lineWidth = 1;
      const p = toPixel(point);
      ctx.beginPath(); ctx.arc(p[0], p[1], 6, 0, 2 * Math.PI); ctx.stroke();
    }
    const update = throttled(async function () {
      drawPlane();
      const image = await models.decoder.run(Float32Array.from(point), [1, 2]);
      drawImages(shown.canvas, image, 1, 1);
      shown.caption.textContent = "decoded at (" + point[0].toFixed(2) + ", " + point[1].toFixed(2) + ")";
    });
    plane.canvas.style.cursor = "crosshair";
    plane.canvas.addEventListener("pointermove", function (e) {
      const box = plane.canvas.getBoundingClientRect();
      point = [((e.clientX - box.left) / box.width * 2 - 1) * reach, (1 - (e.clientY - box.top) / box.height * 2) * reach];
      update();
    });
    function onPath() { point = walk(Number(t.value)); update(); }
    [from, to, path].forEach(function (s) { s.addEventListener("change", onPath); });
    t.addEventListener("input", onPath);
    point = walk(0);
    return update();
  };

  // Chapter 3: fresh samples, and a walk along a great circle between two noise vectors.
  KINDS.samples = function (root, cfg, models) {
    const d = cfg.latent_size, grid = 16;
    let seed = 1, ends = null;
    const row = el("div", {"class": "genadv-live-row"}, root);
    const samples = figure(row, "16 samples", 240);
    const walker = figure(row, "on the path", 168);
    const bar = controls(root);
    const fresh = button(bar, "New samples"), newEnds = button(bar, "New end points");
    const t = slider(bar, "t", 0, 1, 0.01, 0.5);
    async function draw() {
      const z = normals(grid * d, random(seed));
      drawImages(samples.canvas, await models.generator.run(z, [grid, d]), grid, 4);
    }
    function pickEnds() { const z = normals(2 * d, random(1000 + seed)); ends = [z.slice(0, d), z.slice(d)]; }
    const walk = throttled(async function () {
      const z = slerp(ends[0], ends[1], Number(t.value));
      drawImages(walker.canvas, await models.generator.run(z, [1, d]), 1, 1);
      walker.caption.textContent = "on the path, t = " + Number(t.value).toFixed(2);
    });
    fresh.addEventListener("click", function () { seed += 1; draw(); });
    newEnds.addEventListener("click", function () { seed += 1; pickEnds(); walk(); });
    t.addEventListener("input", walk);
    pickEnds();
    return Promise.all([draw(), walk()]);
  };

  // Chapter 4: one test digit rebuilt by the VAE and the VAE-GAN; the VAE-GAN's prior samples.
  KINDS.reconstruct = function (root, cfg, models) {
    const images = unit(cfg.images), count = images.length / PIXELS, d = cfg.latent_size;
    let pick = 0, seed = 1;
    const row = el("div", {"class": "genadv-live-row"}, root);
    const digit = figure(row, "test digit", 140), vae = figure(row, "VAE", 140), vaegan = figure(row, "VAE-GAN", 140);
    const samples = figure(root, "VAE-GAN: 8 samples from the prior", 464, 58);
    const bar = controls(root);
    const prev = button(bar, "Previous digit"), next = button(bar, "Next digit"), fresh = button(bar, "New samples");
    const rebuild = throttled(async function () {
      const x = images.slice(pick * PIXELS, (pick + 1) * PIXELS);
      drawImages(digit.canvas, x, 1, 1);
      digit.caption.textContent = "test digit " + (pick + 1) + " of " + count;
      const out = await Promise.all([models.vae_rebuild.run(x, [1, 1, SIDE, SIDE]), models.vaegan_rebuild.run(x, [1, 1, SIDE, SIDE])]);
      drawImages(vae.canvas, out[0], 1, 1);
      drawImages(vaegan.canvas, out[1], 1, 1);
    });
    async function sample() {
      drawImages(samples.canvas, await models.vaegan_decoder.run(normals(8 * d, random(seed)), [8, d]), 8, 8);
    }
    prev.addEventListener("click", function () { pick = (pick + count - 1) % count; rebuild(); });
    next.addEventListener("click", function () { pick = (pick + 1) % count; rebuild(); });
    fresh.addEventListener("click", function () { seed += 1; sample(); });
    return Promise.all([rebuild(), sample()]);
  };

  // ---------- start-up ----------
  const STYLE = ".genadv-live{border:1px solid #ccc;border-radius:6px;padding:.6em .8em;margin:1em 0}" +
    ".genadv-live-row{display:flex;flex-wrap:wrap;gap:.8em;align-items:flex-start}" +
    ".genadv-live-figure{margin:0;text-align:center;font-size:.85em}" +
    ".genadv-live canvas{image-rendering:pixelated;border:1px solid #bbb;max-width:100%}" +
    ".genadv-live-controls{display:flex;flex-wrap:wrap;gap:.6em 1.2em;align-items:center;margin-top:.5em;font-size:.9em}" +
    ".genadv-live-controls button{padding:.2em .7em}" +
    ".genadv-live-legend{font-size:.8em;line-height:1.5}" +
    ".genadv-live-swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em}" +
    ".genadv-live-status{font-size:.85em;color:#666;margin:.2em 0}";

  function config(root) {  // parsed once, kept with the widget
    if (!root.genadvConfig) root.genadvConfig = JSON.parse(root.querySelector(".genadv-live-config").textContent);
    return root.genadvConfig;
  }

  // Loads the runtime and the widget's networks, draws the widget, and returns its networks.
  async function start(root) {
    const status = root.querySelector(".genadv-live-status");
    const say = function (text, state) { status.textContent = text; root.dataset.state = state; };
    if (typeof WebAssembly !== "object") {
      say("Inactive: this browser has no WebAssembly, which the live model needs; the figures above show the same model.", "inactive");
      return {};
    }
    const cfg = config(root);
    say("Loading the model…", "loading");
    const started = performance.now();
    const ort = await loadRuntime(resolve(cfg.runtime));
    const models = {};
    await Promise.all(Object.entries(cfg.models).map(async function (kv) {
      const source = resolve(kv[1]);
      const data = source.startsWith("data:") ? bytes(source.split(",")[1])
        : new Uint8Array(await (await fetch(source)).arrayBuffer());
      models[kv[0]] = new Model(ort, await ort.InferenceSession.create(data, {executionProviders: ["wasm"]}));
    }));
    await KINDS[cfg.kind](root, cfg, models);
    const seconds = (performance.now() - started) / 1000;
    say("Live: this runs in your browser (onnxruntime-web, WebAssembly); loaded in " + seconds.toFixed(1) + " s.", "ready");
    root.genadvLive.loadSeconds = seconds;
    return models;
  }

  function begin(root) {
    if (root.dataset.started) return;
    root.dataset.started = "1";
    root.genadvLive = {};  // start() records the load time here
    const loaded = start(root);
    Object.assign(root.genadvLive, {
      ready: loaded.then(function () { return true; }, function (err) {
        const status = root.querySelector(".genadv-live-status");
        status.textContent = "Inactive: " + err.message + ". The figures above show the same model.";
        root.dataset.state = "error";
        console.error("genadv-live:", err);
        return false;
      }),
      // The largest |browser - PyTorch| over each network's fixed check input, run by the
      // very sessions the widget draws with.
      check: async function () {
        const models = await loaded, results = {};
        for (const c of config(root).checks) {
          const got = await models[c.model].run(floats(c.input), c.dims), want = floats(c.output);
          let worst = got.length === want.length ? 0 : Infinity;
          for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
          results[c.model] = worst;
        }
        return results;
      },
    });
  }

  G.scan = function () {
    if (!document.getElementById("genadv-live-style")) {
      el("style", {id: "genadv-live-style", text: STYLE}, document.head);
    }
    const widgets = document.querySelectorAll(".genadv-live:not([data-started])");
    widgets.forEach(function (w) {
      w.querySelector(".genadv-live-status").textContent = "The live model (" +
        (config(w).weight / 1e6).toFixed(1) + " MB, plus the runtime once) loads when it comes into view.";
      w.dataset.state = "waiting";
    });
    if (!("IntersectionObserver" in window)) { widgets.forEach(begin); return; }
    const observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (entry.isIntersecting) { observer.unobserve(entry.target); begin(entry.target); }
      });
    }, {rootMargin: "300px"});
    widgets.forEach(function (w) { observer.observe(w); });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", G.scan);
  else G.scan();
})();
