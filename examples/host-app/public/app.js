// The host page's own script: embeds the report and lists the SDK's events.
const target = document.getElementById('report');
const vitrineUrl = target.dataset.vitrine;
const { embed } = await import(`${vitrineUrl}/sdk/v1/vitrine-embed.js`);

const log = document.getElementById('events');
/** Every event, in order, for people reading the page (and for the browser tests). */
window.vitrineEvents = [];

const report = embed(target, {
  url: vitrineUrl,
  reportId: target.dataset.report,
  // The host's own backend, with the host's own (first-party) session cookie.
  fetchToken: async () => (await fetch('/api/vitrine-token', { method: 'POST', credentials: 'same-origin' })).json(),
});

for (const name of ['loaded', 'rendered', 'error', 'pageChanged', 'filtersChanged', 'dataSelected', 'tokenRefreshed', 'capacity', 'accessEnded']) {
  report.on(name, (detail) => {
    window.vitrineEvents.push({ name, detail });
    const item = document.createElement('li');
    item.textContent = `${new Date().toLocaleTimeString()} ${name}${detail?.code ? ` (${detail.code})` : ''}`;
    log.prepend(item);
    while (log.children.length > 20) log.lastElementChild.remove();
  });
}
window.vitrineReport = report;
