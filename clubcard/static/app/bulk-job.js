// Progressive enhancement for a bulk issuance job's page: while the job runs, fetch the page every few
// seconds and swap in the new progress, without reloading (focus and place on the page stay where they
// are). Without JavaScript the page refreshes itself instead (<meta http-equiv="refresh"> in <noscript>).
const region = document.querySelector("[data-clubcard-job]");

function schedule(seconds) {
  window.setTimeout(() => update(seconds), seconds * 1000);
}

async function update(seconds) {
  try {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) {
      schedule(seconds * 2);
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const next = page.querySelector("[data-clubcard-job]");
    if (next === null) {
      return;
    }
    region.replaceChildren(...Array.from(next.childNodes, (node) => document.importNode(node, true)));
    region.dataset.clubcardJob = next.dataset.clubcardJob;
    document.title = page.title;
  } catch {
    schedule(seconds * 2); // the network blinked: try again, less often
    return;
  }
  if (region.dataset.clubcardJob === "running") {
    schedule(seconds);
  }
}

if (region !== null && region.dataset.clubcardJob === "running") {
  schedule(Number(region.dataset.refreshSeconds || "2"));
}
