// The incident page stays current through htmx (static/dist/htmx.min.js): its poller
// (#live-poll) asks /incidents/<ref>/live what changed, and the answer swaps each changed
// panel in place. This only spares the server while nobody is looking: a hidden tab
// skips its polls, and polls again when it is shown. Without JavaScript, a reload works.
document.addEventListener("htmx:confirm", (event) => {
  if (document.hidden && event.detail.elt.id === "live-poll") event.preventDefault();
});
