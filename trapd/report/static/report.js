// trapd report: the contact sheet, the audit sample, the event page and the review.
// Everything shown here came from a card, so it is put into the page as text (textContent,
// setAttribute), never as markup. No network: data comes from the scripts in data/.
"use strict";

(function () {
  const meta = window.TRAPD_META || { root: "../", reviewKey: "default" };
  const PAGE_SIZE = 48;
  const KEYS = { a: "animal", p: "person", v: "vehicle", e: "empty" };
  const STORE = "trapd-review:" + meta.reviewKey;
  const PLAIN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

  // ---- review: labels by file (relative to the storage root), kept in this browser ----
  function loadLabels() {
    try {
      const value = JSON.parse(window.localStorage.getItem(STORE) || "{}");
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    } catch (error) {
      return {};
    }
  }
  let labels = loadLabels();

  function saveLabels() {
    try {
      window.localStorage.setItem(STORE, JSON.stringify(labels));
    } catch (error) {
      document.getElementById("review-count").textContent = "labels cannot be kept in this browser: " + error;
      return;
    }
    showCount();
  }

  function showCount() {
    const count = Object.keys(labels).length;
    document.getElementById("review-count").textContent = count + (count === 1 ? " frame" : " frames") + " labelled";
  }

  function label(files, value) {
    for (const file of files) {
      if (value) labels[file] = value;
      else delete labels[file];
    }
    saveLabels();
    for (const node of document.querySelectorAll("[data-files]")) showBadge(node);
  }

  function showBadge(node) {
    const files = JSON.parse(node.dataset.files);
    const badge = node.querySelector(".badge");
    if (!badge) return;
    const given = files.map((f) => labels[f]).filter(Boolean);
    const kinds = Array.from(new Set(given));
    badge.className = "badge";
    if (!given.length) {
      badge.textContent = "";
    } else if (kinds.length === 1 && given.length === files.length) {
      badge.textContent = kinds[0];
      badge.classList.add("label-" + kinds[0]);
    } else {
      badge.textContent = given.length + "/" + files.length + " labelled: " + kinds.join(", ");
    }
    node.dataset.review = given.length ? "labelled" : "unlabelled";
  }

  function exportReview() {
    const lines = ["file,label"];
    for (const file of Object.keys(labels).sort()) lines.push(csvField(file) + "," + csvField(labels[file]));
    const blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "trapd-review-" + new Date().toISOString().slice(0, 10) + ".csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  function csvField(text) {
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, select, textarea")) return;
    const item = target.closest ? target.closest("[data-files]") : null;
    if (event.key === "j" || event.key === "k") {
      const items = Array.from(document.querySelectorAll("[data-files]"));
      const at = items.indexOf(item);
      const next = items[Math.max(0, Math.min(items.length - 1, at + (event.key === "j" ? 1 : -1)))];
      if (next) next.focus();
      event.preventDefault();
      return;
    }
    if (!item) return;
    const key = event.key.toLowerCase();
    if (key in KEYS || key === "x") {
      label(JSON.parse(item.dataset.files), KEYS[key] || null);
      event.preventDefault();
    }
  }

  // ---- an event row's files and thumbnails (as trapd/report/summary.py names them) ----
  function eventDir(row) {
    return row.dir || [row.deployment, row.day, row.id].join("/");
  }

  function frameName(row, index) {
    return row.id + "_" + String(index).padStart(3, "0") + ".jpg";
  }

  // Each stored frame's file, relative to the storage root, by frame index.
  function storedFiles(row) {
    const [deployment, day] = eventDir(row).split("/");
    const files = {};
    for (const [index, audit, named] of row.stored) {
      files[index] = named || (audit ? [deployment, "audit", day, row.id, frameName(row, index)].join("/") :
        eventDir(row) + "/" + frameName(row, index));
    }
    return files;
  }

  function isAudit(row, index) {
    return row.stored.some((s) => s[0] === index && s[1] === 1);
  }

  function thumbSrc(row, index) {
    const [deployment, day] = eventDir(row).split("/");
    return "thumbs/" + deployment + "/" + day + "/" + frameName(row, index);
  }

  function rowsOf(report) {
    const columns = report.columns;
    return report.rows.map((values) => {
      const row = {};
      columns.forEach((name, i) => { row[name] = values[i]; });
      return row;
    });
  }

  // ---- drawing ----
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function frameFile(file) {
    return meta.root + file.split("/").map(encodeURIComponent).join("/");
  }

  // A picture with its detections drawn where the sidecar says: boxes are normalised [x, y, w, h].
  function picture(src, boxes, alt) {
    const frame = el("div", "picture");
    if (!src) {
      frame.appendChild(el("div", "nothumb", alt));
      return frame;
    }
    const image = el("img", "thumb");
    image.src = src;
    image.alt = alt;
    image.loading = "lazy";
    frame.appendChild(image);
    for (const box of boxes || []) {
      const [category, name, score, x, y, w, h] = box;
      const mark = el("div", "box box-" + (PLAIN.test(category) ? category : "other"));
      mark.style.left = 100 * x + "%";
      mark.style.top = 100 * y + "%";
      mark.style.width = 100 * w + "%";
      mark.style.height = 100 * h + "%";
      mark.dataset.box = [x, y, w, h].join(",");
      mark.appendChild(el("span", "box-label", name + " " + Number(score).toFixed(2)));
      frame.appendChild(mark);
    }
    return frame;
  }

  function chips(flags) {
    const list = el("ul", "flags");
    const words = { scenery: "scenery discounted", audit: "audit sample", detector_error: "detector error" };
    for (const flag of flags) list.appendChild(el("li", "flag flag-" + flag, words[flag] || flag.replace(/_/g, " ")));
    return list;
  }

  function eventLink(row) {
    return "event.html#" + eventDir(row).split("/").map(encodeURIComponent).join("/");
  }

  function eventCard(row) {
    const card = el("article", "event-card " + (row.keep ? "kept" : "discarded"));
    card.tabIndex = 0;
    card.dataset.eventId = row.id;
    card.dataset.files = JSON.stringify(Object.values(storedFiles(row)));
    const head = el("header");
    const link = el("a", "when", row.start.replace("T", " "));
    link.href = eventLink(row);
    head.appendChild(link);
    head.appendChild(el("span", "badge"));
    card.appendChild(head);
    const strip = el("div", "strip");
    for (const [index, made, boxes] of row.thumbs.slice(0, 3)) {
      const item = el("a", "thumb-link");
      item.href = eventLink(row);
      item.appendChild(picture(made ? thumbSrc(row, index) : "", boxes, made ? "frame " + index : "frame " + index +
        " cannot be shown (it does not decode)"));
      strip.appendChild(item);
    }
    if (!row.thumbs.length) strip.appendChild(el("div", "nothumb", row.keep ? "no frame on the card" :
      "discarded: no frame kept"));
    card.appendChild(strip);
    card.appendChild(el("p", "decision", (row.keep ? "KEPT: " : "DISCARDED: ") + row.reason));
    const best = row.category === "none" ? "no detection" : row.category + ": " + row.label + " " +
      Number(row.score).toFixed(2);
    card.appendChild(el("p", "line", best + " · " + row.frames + " frames, " + row.kept + " kept · " +
      row.triggers + " triggers · " + row.deployment));
    card.appendChild(chips(row.flags));
    showBadge(card);
    return card;
  }

  function auditCard(item) {
    const { row, thumb } = item;
    const [index, made, boxes] = thumb;
    const file = storedFiles(row)[index];
    const card = el("article", "event-card audit-card");
    card.tabIndex = 0;
    card.dataset.eventId = row.id;
    card.dataset.files = JSON.stringify([file]);
    const head = el("header");
    const link = el("a", "when", row.start.replace("T", " ") + " · frame " + index);
    link.href = eventLink(row);
    head.appendChild(link);
    head.appendChild(el("span", "badge"));
    card.appendChild(head);
    const big = el("a", "thumb-link");
    big.href = frameFile(file);
    big.appendChild(picture(made ? thumbSrc(row, index) : "", boxes, made ? "audit frame " + index :
      "audit frame " + index + " cannot be shown (it does not decode)"));
    card.appendChild(big);
    card.appendChild(el("p", "decision", "Discarded with its event: " + row.reason));
    showBadge(card);
    return card;
  }

  // ---- paging over a filtered list ----
  function pager(items, draw) {
    let page = 0;
    const sheet = document.getElementById("sheet");
    const info = document.getElementById("page-info");
    const prev = document.getElementById("page-prev");
    const next = document.getElementById("page-next");
    let current = items;
    function show() {
      const pages = Math.max(1, Math.ceil(current.length / PAGE_SIZE));
      page = Math.max(0, Math.min(page, pages - 1));
      const slice = current.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
      sheet.replaceChildren(...slice.map(draw));
      if (!slice.length) sheet.appendChild(el("p", "empty", "Nothing matches."));
      const first = current.length ? page * PAGE_SIZE + 1 : 0;
      info.textContent = first + "–" + (page * PAGE_SIZE + slice.length) + " of " + current.length +
        " (page " + (page + 1) + " of " + pages + ")";
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    prev.addEventListener("click", () => { page -= 1; show(); });
    next.addEventListener("click", () => { page += 1; show(); });
    return {
      set(items) { current = items; page = 0; show(); },
      show,
    };
  }

  function contactSheet(rows) {
    const newestFirst = rows.slice().reverse();
    const field = (id) => document.getElementById(id);
    const sheet = pager(newestFirst, eventCard);
    function matches(row) {
      const from = field("filter-from").value;
      const to = field("filter-to").value;
      const category = field("filter-category").value;
      const decision = field("filter-decision").value;
      const flag = field("filter-flag").value;
      const review = field("filter-review").value;
      if (from && row.day < from) return false;
      if (to && row.day > to) return false;
      if (category && row.category !== category) return false;
      if (decision && (decision === "kept") !== row.keep) return false;
      if (flag && !row.flags.includes(flag)) return false;
      if (review) {
        const labelled = Object.values(storedFiles(row)).some((f) => labels[f]);
        if ((review === "labelled") !== labelled) return false;
      }
      return true;
    }
    const apply = () => sheet.set(newestFirst.filter(matches));
    for (const id of ["filter-from", "filter-to", "filter-category", "filter-decision", "filter-flag", "filter-review"]) {
      field(id).addEventListener("change", apply);
    }
    field("filters").addEventListener("submit", (event) => event.preventDefault());
    apply();
  }

  function auditSheet(rows) {
    const items = [];
    for (const row of rows.slice().reverse()) {
      for (const thumb of row.thumbs) if (isAudit(row, thumb[0])) items.push({ row, thumb });
    }
    pager(items, auditCard).set(items);
  }

  // ---- the event page: every frame, full size, from its day's data file ----
  function eventPage() {
    const parts = decodeURIComponent(window.location.hash.slice(1)).split("/");
    const missing = document.getElementById("event-missing");
    if (parts.length !== 3 || !parts.every((p) => PLAIN.test(p))) {
      missing.hidden = false;
      return;
    }
    const [deployment, day, id] = parts;
    const script = document.createElement("script");
    script.src = "data/days/" + deployment + "/" + day + ".js";
    script.onload = () => {
      const data = (window.TRAPD_DAYS || {})[deployment + "/" + day];
      const event = data && data.events[id];
      if (!event) missing.hidden = false;
      else drawEvent(event);
    };
    script.onerror = () => { missing.hidden = false; };
    document.head.appendChild(script);
  }

  function drawEvent(event) {
    const body = document.getElementById("event-body");
    document.title = "trapd report: event " + event.id;
    body.appendChild(el("h2", "", "Event " + event.id));
    const files = event.frames.map((f) => f.file).filter(Boolean);
    const summary = el("div", "event-summary");
    summary.dataset.files = JSON.stringify(files);
    summary.tabIndex = 0;
    summary.appendChild(el("p", "decision", (event.keep ? "KEPT: " : "DISCARDED: ") + event.reason));
    summary.appendChild(el("span", "badge"));
    summary.appendChild(chips(event.flags));
    const facts = [
      ["deployment", event.deployment], ["camera", event.camera], ["start", event.start], ["end", event.end],
      ["time zone", event.timezone], ["ended because", event.end_reason], ["capture", event.capture_method],
      ["clock synchronised", event.clock_synced === null ? "unknown" : event.clock_synced ? "yes" : "no"],
      ["detector", event.detector], ["detector sha256", event.detector_sha256 || "not recorded"],
      ["triggers", event.triggers.map((t) => t[0].slice(11) + " (" + t[1] + ")").join(", ")],
    ];
    summary.appendChild(table(facts));
    const buttons = el("p", "mark-all", "Label the whole event: ");
    for (const [key, name] of Object.entries(KEYS)) {
      const button = el("button", "", name + " (" + key + ")");
      button.type = "button";
      button.addEventListener("click", () => label(files, name));
      buttons.appendChild(button);
    }
    summary.appendChild(buttons);
    body.appendChild(summary);
    for (const frame of event.frames) body.appendChild(frameFigure(frame));
    for (const node of document.querySelectorAll("[data-files]")) showBadge(node);
  }

  function frameFigure(frame) {
    const figure = el("figure", "frame-card " + (frame.keep ? "kept" : frame.audit ? "audit" : "discarded"));
    figure.tabIndex = 0;
    figure.dataset.files = JSON.stringify(frame.file ? [frame.file] : []);
    const caption = el("figcaption");
    caption.appendChild(el("strong", "", "Frame " + frame.index + (frame.pretrigger ? " (before the trigger)" : "") +
      ": " + (frame.keep ? "kept" : frame.audit ? "discarded, audit sample" : "discarded")));
    caption.appendChild(el("span", "badge"));
    caption.appendChild(el("p", "decision", frame.reason));
    caption.appendChild(chips(frame.flags));
    figure.appendChild(caption);
    if (frame.file) {
      figure.appendChild(picture(frameFile(frame.file), frame.boxes, "frame " + frame.index));
    } else {
      figure.appendChild(el("div", "nothumb", frame.gone ? "file " + frame.gone : frame.keep ?
        "no file (the frame did not decode and came with no bytes)" : "not kept: discarded frames are deleted"));
    }
    const detections = frame.boxes.map((b, i) => b[0] + " " + b[1] + " " + Number(b[2]).toFixed(2) +
      (frame.motion[i] === null || frame.motion[i] === undefined ? "" : ", motion " + Number(frame.motion[i]).toFixed(1)));
    const rows = [
      ["captured", frame.captured], ["burst", frame.burst],
      ["trigger to exposure", frame.trigger_to_exposure_ms + " ms"],
      ["detector", frame.detector_status + (frame.detector_reason ? ": " + frame.detector_reason : "") + ", " +
        frame.detector_latency_ms + " ms"],
      ["detections", detections.join("; ") || "none"],
    ];
    if (frame.second_opinion) rows.push(["second opinion", JSON.stringify(frame.second_opinion.scores)]);
    if (frame.decode_error) rows.push(["decode error", frame.decode_error]);
    if (frame.metadata_error) rows.push(["metadata error", frame.metadata_error]);
    if (frame.file) rows.push(["file", frame.file]);
    figure.appendChild(table(rows));
    const details = el("details", "metadata");
    details.appendChild(el("summary", "", "Camera metadata"));
    details.appendChild(table(Object.entries(frame.metadata || {}).map(([k, v]) => [k, JSON.stringify(v)])));
    figure.appendChild(details);
    return figure;
  }

  function table(rows) {
    const node = el("table", "facts-table");
    for (const [key, value] of rows) {
      const line = el("tr");
      line.appendChild(el("th", "", key));
      line.appendChild(el("td", "", value));
      node.appendChild(line);
    }
    return node;
  }

  // ---- start ----
  document.addEventListener("keydown", onKey);
  document.getElementById("review-export").addEventListener("click", exportReview);
  document.getElementById("review-clear").addEventListener("click", () => {
    if (window.confirm("Forget every label kept in this browser for this report?")) label(Object.keys(labels), null);
  });
  showCount();
  const page = document.body.dataset.page;
  const report = window.TRAPD_REPORT;
  if (page === "index.html" && report) contactSheet(rowsOf(report));
  else if (page === "audit.html" && report) auditSheet(rowsOf(report));
  else if (page === "event.html") {
    eventPage();
    window.addEventListener("hashchange", () => window.location.reload());
  }
})();
