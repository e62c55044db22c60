/* Kernel-free explorers for the static website.
 *
 * A page marks a place with <div class="lib-explorer" data-explorer="NAME"></div>.
 * At build time lib.widgets.render_static wrote _static/explorers/NAME/manifest.js
 * and one lossless WebP frame per combination of the explorer's static options. This
 * script loads the manifest and shows those frames, at the size they were drawn,
 * behind the same controls: no Python, no CDN, and it works from file:// as well as
 * from a server.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? script.src.replace(/explorer\.js(\?.*)?$/, "") : "_static/";
  var waiting = {};

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function build(host, m) {
    var dir = base + "explorers/" + m.name + "/";
    var state = m.controls.map(function (c) { return c.default; });
    var uid = "lib-explorer-" + m.name + "-" + Math.random().toString(36).slice(2, 8);
    host.innerHTML = "";
    var panel = el("div", { "class": "lib-explorer-controls" });
    var figure = el("figure", { "class": "lib-explorer-figure" });
    var img = el("img", { "class": "lib-explorer-image", width: String(m.width),
                                 height: String(m.height) });
    var caption = el("figcaption", { "aria-live": "polite" });
    figure.appendChild(img);
    figure.appendChild(caption);

    function describe() {
      return m.title + ": " + m.controls.map(function (c, i) {
        return c.label + " = " + c.options[state[i]];
      }).join(", ");
    }
    function show() {
      var key = state.join("_");
      img.src = dir + m.frames[key];
      img.alt = describe();
    }

    m.controls.forEach(function (c, i) {
      var row = el("div", { "class": "lib-explorer-row" });
      var id = uid + "-" + c.name;
      row.appendChild(el("label", { "for": id }, c.label));
      var input;
      if (c.kind === "dropdown") {
        input = el("select", { id: id });
        c.options.forEach(function (label, j) {
          var opt = el("option", { value: String(j) }, label);
          if (j === c.default) { opt.selected = true; }
          input.appendChild(opt);
        });
        input.addEventListener("change", function () { state[i] = Number(input.value); show(); });
        row.appendChild(input);
      } else {
        input = el("input", { id: id, type: "range", min: "0", max: String(c.options.length - 1),
                              step: "1", value: String(c.default) });
        var out = el("output", { "for": id }, c.options[c.default]);
        input.addEventListener("input", function () {
          state[i] = Number(input.value);
          out.textContent = c.options[state[i]];
          show();
        });
        row.appendChild(input);
        row.appendChild(out);
      }
      panel.appendChild(row);
    });

    var fixed = m.fixed.map(function (f) { return f.label + " = " + f.value; })
      .concat((m.partial || []).map(function (p) {
        return p.label + ": " + p.shown + " of " + p.of + " options";
      })).join("; ");
    caption.textContent = "Pre-rendered by the book's lib at build time" +
      (fixed ? " (here: " + fixed + ")" : "") +
      ". Run this chapter in JupyterLab (make lab) to move every control live.";
    host.appendChild(panel);
    host.appendChild(figure);
    show();
  }

  window.libExplorer = {
    register: function (manifest) {
      (waiting[manifest.name] || []).forEach(function (host) { build(host, manifest); });
    }
  };

  function start() {
    var hosts = document.querySelectorAll("div.lib-explorer[data-explorer]");
    Array.prototype.forEach.call(hosts, function (host) {
      var name = host.getAttribute("data-explorer");
      if (!waiting[name]) {
        waiting[name] = [];
        var s = el("script", { src: base + "explorers/" + name + "/manifest.js" });
        s.onerror = function () {
          host.textContent = "This explorer's pre-rendered frames are missing; rebuild the book with make book.";
        };
        document.head.appendChild(s);
      }
      waiting[name].push(host);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
