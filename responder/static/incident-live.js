// Keeps an open incident page current without reloading it: asks the server
// what changed since the last timeline event it saw, every few seconds while
// the page is visible. Without JavaScript the page works with a plain reload.
const root = document.getElementById("incident");
const POLL_MS = 5000;

async function poll() {
  if (document.hidden) return;
  const params = new URLSearchParams({ after: root.dataset.cursor });
  if (root.dataset.kind) params.set("kind", root.dataset.kind);
  const response = await fetch(`${root.dataset.liveUrl}?${params}`, {
    headers: { Accept: "application/json" },
    credentials: "same-origin",
  });
  if (!response.ok) return;
  const change = await response.json();
  if (change.board) {
    document.getElementById("board").innerHTML = change.board;
  }
  // New events join the list only where it shows the latest end of the timeline.
  const where = root.dataset.newEvents;
  if (change.events.length && where) {
    const list = document.getElementById("timeline-events");
    for (const html of change.events) {
      const holder = document.createElement("template");
      holder.innerHTML = html.trim();
      if (where === "append") list.append(holder.content);
      else list.prepend(holder.content);
    }
  }
  const status = document.getElementById("incident-status");
  if (status && change.status) status.textContent = change.status.replace("_", " ").replace(/^./, (c) => c.toUpperCase());
  root.dataset.cursor = change.cursor;
}

if (root) {
  setInterval(() => poll().catch(() => {}), POLL_MS);
}
