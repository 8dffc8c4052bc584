// vfbench collect review: click / keyboard decisions, posted to /api/decision.
(function () {
  "use strict";
  const help = document.getElementById("help");
  document.getElementById("help-toggle").addEventListener("click", () => { help.hidden = !help.hidden; });

  const token = document.querySelector('meta[name="review-token"]').content;
  async function post(kind, id, decision) {
    const r = await fetch("/api/decision", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Review-Token": token },
      body: JSON.stringify({ kind: kind, id: id, decision: decision }),
    });
    if (!r.ok) { const e = await r.json().catch(() => ({})); alert("not saved: " + (e.error || r.status)); return false; }
    return true;
  }
  function show(el, decision) {
    el.classList.remove("accept", "reject");
    if (decision) el.classList.add(decision);
  }
  async function decideItem(el, decision) {
    if (await post("item", el.dataset.id, decision)) { show(el, decision); el.dataset.saved = decision || ""; }
  }
  const section = document.getElementById("identity");
  async function decideIdentity(decision) {
    if (!section) return;
    if (await post("identity", section.dataset.identity, decision)) {
      show(section, decision);
      document.getElementById("identity-decision").textContent = decision || "undecided";
    }
  }
  const items = Array.from(document.querySelectorAll(".item"));
  items.forEach((el) => {
    el.querySelectorAll("button[data-decision]").forEach((b) =>
      b.addEventListener("click", (ev) => { ev.stopPropagation(); el.focus(); decideItem(el, b.dataset.decision); }));
    el.addEventListener("click", () => el.focus());
  });
  document.querySelectorAll(".ident-actions button").forEach((b) =>
    b.addEventListener("click", () => decideIdentity(b.dataset.decision)));
  if (items.length && section) items[0].focus();

  function move(step) {
    const i = items.indexOf(document.activeElement);
    const j = i < 0 ? 0 : Math.max(0, Math.min(items.length - 1, i + step));
    if (items[j]) { items[j].focus(); items[j].scrollIntoView({ block: "nearest" }); }
  }
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const cur = items.includes(document.activeElement) ? document.activeElement : null;
    const nav = (id) => { const a = document.getElementById(id); if (a) window.location = a.href; };
    switch (ev.key) {
      case "ArrowRight": case "l": case "j": move(1); break;
      case "ArrowLeft": case "h": case "k": move(-1); break;
      case "a": if (cur) decideItem(cur, "accept"); break;
      case "r": case "x": if (cur) decideItem(cur, "reject"); break;
      case "u": if (cur) decideItem(cur, null); break;
      case "A": decideIdentity("accept"); break;
      case "R": decideIdentity("reject"); break;
      case "n": nav("next-ident"); break;
      case "p": nav("prev-ident"); break;
      case "?": help.hidden = !help.hidden; break;
      case " ": {
        const au = cur && cur.querySelector("audio");
        if (au) { if (au.paused) au.play(); else au.pause(); } else return;
        break;
      }
      default: return;
    }
    ev.preventDefault();
  });
})();
