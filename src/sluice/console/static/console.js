// The console's own script (no inline scripts: the CSP allows only files from this server).
// S3 uploads from the browser: drag and drop or pick several files, each sent with its own
// progress bar to the console's upload route (which calls PutObject), with the page's CSRF
// token in a header.
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function uploadOne(zone, list, file) {
    var row = document.createElement("li");
    var name = document.createElement("span");
    var key = (zone.getAttribute("data-prefix") || "") + (file.webkitRelativePath || file.name);
    name.textContent = key;
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    var state = document.createElement("span");
    state.className = "state muted";
    state.textContent = "waiting";
    row.appendChild(name); row.appendChild(bar); row.appendChild(state);
    list.appendChild(row);
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", zone.getAttribute("data-upload-url") + "?key=" + encodeURIComponent(key));
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
        state.textContent = "uploading";
      };
      xhr.onload = function () {
        var ok = xhr.status >= 200 && xhr.status < 300;
        bar.value = ok ? 100 : bar.value;
        state.className = "state " + (ok ? "badge ok" : "badge failed");
        state.textContent = ok ? "uploaded" : (xhr.getResponseHeader("X-Sluice-Error") || ("HTTP " + xhr.status));
        row.setAttribute("data-status", ok ? "uploaded" : "failed");
        resolve(ok);
      };
      xhr.onerror = function () { state.textContent = "network error"; row.setAttribute("data-status", "failed"); resolve(false); };
      xhr.send(file);
    });
  }

  function uploadAll(zone, files) {
    var list = zone.parentNode.querySelector(".uploads");
    var jobs = [];
    for (var i = 0; i < files.length; i++) { jobs.push(uploadOne(zone, list, files[i])); }
    Promise.all(jobs).then(function () {
      // Refresh the object list the page shows (htmx listens for this event).
      document.body.dispatchEvent(new CustomEvent("objects-changed", { bubbles: true }));
    });
  }

  function wire(zone) {
    if (zone.getAttribute("data-wired")) { return; }
    zone.setAttribute("data-wired", "1");
    var input = zone.querySelector("input[type=file]");
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault(); zone.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) { uploadAll(zone, e.dataTransfer.files); }
    });
    if (input) {
      input.addEventListener("change", function () {
        if (input.files.length) { uploadAll(zone, input.files); input.value = ""; }
      });
    }
  }

  function wireAll(root) {
    var zones = (root || document).querySelectorAll("[data-upload-url]");
    for (var i = 0; i < zones.length; i++) { wire(zones[i]); }
  }

  // Confirmations without inline handlers: <form data-confirm="Delete x?"> (htmx forms too:
  // htmx submits on the form's own submit event, which this stops first). A list's one form
  // shared by its rows says "Delete {}?": {} is the value of the row's button that submitted it.
  document.addEventListener("submit", function (e) {
    var msg = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (msg && e.submitter && e.submitter.value) { msg = msg.replace("{}", e.submitter.value); }
    if (msg && !window.confirm(msg)) { e.preventDefault(); e.stopPropagation(); }
  }, true);
  // A log tail keeps its newest line in view.
  document.addEventListener("htmx:sseMessage", function (e) {
    var el = e.detail && e.detail.elt;
    if (el && el.classList && el.classList.contains("log")) { el.scrollTop = el.scrollHeight; }
  });

  document.addEventListener("DOMContentLoaded", function () { wireAll(document); });
  document.addEventListener("htmx:load", function (e) { wireAll(e.detail.elt); });
})();
