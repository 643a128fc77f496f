// Refresh each live panel in place every few seconds, without reloading the page.
// The server renders every panel (and the journey a link names) on the first load,
// so the page works without this script; this only keeps it current.
(function () {
  "use strict";
  const every = Number(document.body.dataset.refreshMs) || 5000;
  const clock = document.getElementById("clock");

  async function refresh(section) {
    const name = section.dataset.panel;
    try {
      const response = await fetch("/panels/" + name, { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const holder = document.createElement("div");
      holder.innerHTML = await response.text();
      const fresh = holder.querySelector("section[data-panel]");
      if (fresh) section.replaceWith(fresh);
    } catch (error) {
      section.classList.add("stale");
      section.dataset.error = "the ops page itself did not answer: " + error.message;
    }
  }

  function tick() {
    const live = document.querySelectorAll("section[data-panel]:not([data-panel=journey])");
    live.forEach(refresh);
    if (clock) clock.textContent = "live, every " + every / 1000 + " s · " + new Date().toISOString().slice(11, 19) + " UTC";
  }

  tick();
  setInterval(tick, every);
})();
