// cryopick review: accept, reject and add picks on micrographs in the browser, then
// download them as a STAR file for `cryopick train --coords`. No server, no network.
//
// The page embeds its data as JSON (script#cryopick-review-data):
//   {id, threshold, micrographs: [{name, star_name, width, height, factor, view_width,
//                                  view_height, radius_px, picks: [[x, y, score|null], ...]}]}
// x = column, y = row, in pixels of the original micrograph (cryopick's convention).
// Decisions are kept in the browser's localStorage under the page's id, so closing the
// page loses nothing.
//
// The logic below (state, decisions, STAR text) is plain functions, also run by Node in
// cryopick's tests; the drawing at the end runs only in a browser.

"use strict";

const Review = (() => {
  // A pick is "auto" (kept when its score reaches the threshold), "accepted" or
  // "rejected" by the person; "added" picks are the person's own.
  function newState(data) {
    return {
      threshold: data.threshold,
      micrographs: data.micrographs.map((m) => ({
        name: m.name,
        starName: m.star_name,
        picks: m.picks.map(([x, y, score]) => ({ x, y, score, status: "auto" })),
        added: [],
      })),
    };
  }

  function isKept(pick, threshold) {
    if (pick.status === "accepted") return true;
    if (pick.status === "rejected") return false;
    return pick.score === null || pick.score >= threshold;
  }

  // Clicking a pick flips it: kept -> rejected, otherwise -> accepted.
  function toggle(state, mic, index) {
    const pick = state.micrographs[mic].picks[index];
    pick.status = isKept(pick, state.threshold) ? "rejected" : "accepted";
    return pick.status;
  }

  function add(state, mic, x, y) {
    state.micrographs[mic].added.push({ x, y });
    return state.micrographs[mic].added.length - 1;
  }

  function removeAdded(state, mic, index) {
    state.micrographs[mic].added.splice(index, 1);
  }

  function kept(state) {
    const rows = [];
    state.micrographs.forEach((m) => {
      m.picks.forEach((p) => {
        if (isKept(p, state.threshold)) rows.push([m.starName, p.x, p.y, p.score]);
      });
      m.added.forEach((p) => rows.push([m.starName, p.x, p.y, null]));
    });
    return rows;
  }

  function counts(state) {
    let nKept = 0, nRejected = 0, nAdded = 0;
    state.micrographs.forEach((m) => {
      m.picks.forEach((p) => {
        if (isKept(p, state.threshold)) nKept += 1;
        else if (p.status === "rejected") nRejected += 1;
      });
      nAdded += m.added.length;
    });
    return { kept: nKept + nAdded, rejected: nRejected, added: nAdded };
  }

  // RELION 3.0-style coordinates: one loop with the micrograph of every pick; -999 is
  // RELION's "no score" (the person's own picks).
  function starText(state) {
    const lines = [
      "# written by cryopick review",
      "",
      "data_",
      "",
      "loop_",
      "_rlnMicrographName #1",
      "_rlnCoordinateX #2",
      "_rlnCoordinateY #3",
      "_rlnAutopickFigureOfMerit #4",
    ];
    kept(state).forEach(([name, x, y, score]) => {
      const merit = score === null ? "-999" : score.toPrecision(6);
      lines.push(`${name} ${x.toFixed(2)} ${y.toFixed(2)} ${merit}`);
    });
    return lines.join("\n") + "\n";
  }

  // What localStorage keeps: decisions only, not the picks themselves.
  function decisions(state) {
    return {
      threshold: state.threshold,
      micrographs: state.micrographs.map((m) => ({
        changed: m.picks.flatMap((p, i) => (p.status === "auto" ? [] : [[i, p.status]])),
        added: m.added.map((p) => [p.x, p.y]),
      })),
    };
  }

  function restore(state, saved) {
    if (!saved || !Array.isArray(saved.micrographs) || saved.micrographs.length !== state.micrographs.length) {
      return false;
    }
    if (typeof saved.threshold === "number") state.threshold = saved.threshold;
    saved.micrographs.forEach((s, k) => {
      const m = state.micrographs[k];
      (s.changed || []).forEach(([i, status]) => {
        if (m.picks[i] && (status === "accepted" || status === "rejected")) m.picks[i].status = status;
      });
      m.added = (s.added || []).map(([x, y]) => ({ x, y }));
    });
    return true;
  }

  // The displayed image is the micrograph block-averaged by `factor`: displayed
  // coordinate u (0 at its left edge) is original pixel u * factor - 0.5 (pixel centres
  // at whole numbers), kept inside the micrograph and rounded to 0.01 px.
  function fromView(u, factor, size) {
    const x = Math.min(Math.max(u * factor - 0.5, 0), size - 1);
    return Math.round(x * 100) / 100;
  }

  return { newState, isKept, fromView, toggle, add, removeAdded, kept, counts, starText, decisions, restore };
})();

if (typeof module !== "undefined") module.exports = Review;

if (typeof document !== "undefined") {
  document.addEventListener("DOMContentLoaded", () => {
    const data = JSON.parse(document.getElementById("cryopick-review-data").textContent);
    const state = Review.newState(data);
    const storeKey = `cryopick-review:${data.id}`;
    try {
      Review.restore(state, JSON.parse(window.localStorage.getItem(storeKey)));
    } catch (e) { /* no storage (a file:// page in some browsers): decisions live until the page closes */ }
    const SVG = "http://www.w3.org/2000/svg";
    const slider = document.getElementById("threshold");
    const shown = document.getElementById("threshold-value");
    const tally = document.getElementById("tally");

    function save() {
      try { window.localStorage.setItem(storeKey, JSON.stringify(Review.decisions(state))); } catch (e) { /* see above */ }
    }

    const toView = (value, m) => (value + 0.5) / m.factor;

    function circle(group, x, y, r, cls, label, onClick) {
      const c = document.createElementNS(SVG, "circle");
      c.setAttribute("cx", x); c.setAttribute("cy", y); c.setAttribute("r", r);
      c.setAttribute("class", cls);
      const title = document.createElementNS(SVG, "title");  // shown on hover
      title.textContent = label;
      c.appendChild(title);
      c.addEventListener("click", (event) => { event.stopPropagation(); onClick(); });
      group.appendChild(c);
    }

    function draw() {
      data.micrographs.forEach((m, k) => {
        const group = document.getElementById(`picks-${k}`);
        group.replaceChildren();
        const r = m.radius_px / m.factor;
        state.micrographs[k].picks.forEach((p, i) => {
          const keep = Review.isKept(p, state.threshold);
          if (!keep && p.status !== "rejected") return;
          const score = p.score === null ? "no score" : `score ${p.score.toFixed(3)}`;
          circle(group, toView(p.x, m), toView(p.y, m), r, keep ? "kept" : "rejected",
            `${score}${p.status === "auto" ? "" : `, ${p.status} by you`}`,
            () => { Review.toggle(state, k, i); changed(); });
        });
        state.micrographs[k].added.forEach((p, i) => {
          circle(group, toView(p.x, m), toView(p.y, m), r, "added", "added by you",
            () => { Review.removeAdded(state, k, i); changed(); });
        });
      });
      const c = Review.counts(state);
      tally.textContent = `${c.kept} picks kept (${c.added} added by you), ${c.rejected} rejected`;
      slider.value = state.threshold;
      shown.textContent = state.threshold.toFixed(3);
    }

    function changed() { save(); draw(); }

    data.micrographs.forEach((m, k) => {
      const svg = document.getElementById(`mic-${k}`);
      svg.addEventListener("click", (event) => {
        const box = svg.getBoundingClientRect();
        const x = Review.fromView(((event.clientX - box.left) / box.width) * m.view_width, m.factor, m.width);
        const y = Review.fromView(((event.clientY - box.top) / box.height) * m.view_height, m.factor, m.height);
        Review.add(state, k, x, y);
        changed();
      });
    });
    slider.addEventListener("input", () => { state.threshold = parseFloat(slider.value); changed(); });
    document.getElementById("download").addEventListener("click", () => {
      const blob = new Blob([Review.starText(state)], { type: "text/plain" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = "reviewed.star";
      link.click();
      URL.revokeObjectURL(link.href);
    });
    document.getElementById("reset").addEventListener("click", () => {
      if (!window.confirm("Forget every decision on this page?")) return;
      const fresh = Review.newState(data);
      state.threshold = fresh.threshold;
      state.micrographs = fresh.micrographs;
      changed();
    });
    draw();
  });
}
