// Live entries on the home page and profiles: new ones appear in their place (the newest
// written at the top), edited ones change in place, deleted ones disappear. Resumes from the last seq after any break.
import { localizeTimes } from "/static/time.js";

const list = document.querySelector("[data-live-seq]");
const status = document.querySelector("[data-live-status]");
const MAX_DELAY = 30_000;

let lastSeq = Number(list?.dataset.liveSeq ?? 0);
// An entry's own page follows that entry alone (data-live-entry).
const single = list?.dataset.liveEntry;
let attempts = 0;
let unseen = 0;

function setStatus(text, state) {
  if (!status) return;
  status.hidden = false;
  status.textContent = text;
  status.dataset.state = state;
}

function cardFrom(html) {
  const template = document.createElement("template");
  template.innerHTML = html.trim();
  return template.content.firstElementChild;
}

// A profile lists one writer (data-live-author); /following, the writers followed
// (data-live-authors, space-separated).
const followed = list?.dataset.liveAuthors?.split(" ");

function belongsHere(card) {
  const author = list.dataset.liveAuthor;
  if (author && card.dataset.author !== author) return false;
  return !followed || followed.includes(card.dataset.author);
}

function showUnseen() {
  let notice = document.querySelector("[data-live-unseen]");
  if (!notice) {
    notice = document.createElement("p");
    notice.className = "live-unseen";
    notice.dataset.liveUnseen = "";
    const link = document.createElement("a");
    link.href = location.pathname;
    notice.append(link);
    list.before(notice);
  }
  notice.firstElementChild.textContent =
    unseen === 1 ? "1 new entry: show the newest" : `${unseen} new entries: show the newest`;
}

function showGone() {
  const notice = document.createElement("p");
  notice.className = "empty";
  notice.textContent = "This entry was deleted, or made private, by its writer.";
  list.replaceChildren(notice);
}

function apply(message) {
  if (single && String(message.entry_id) !== single) return;
  const existing = document.getElementById(`entry-${message.entry_id}`);
  if (message.type === "deleted") {
    existing?.remove();
    if (single) showGone();
    return;
  }
  const card = cardFrom(message.html);
  if (!card || !belongsHere(card)) return;
  localizeTimes(card);
  if (single) {
    if (card.hasAttribute("data-excerpt")) {
      showWhole(message.seq);
      return;
    }
    // The entry's page shows its title as a heading, not a link to itself.
    const link = card.querySelector(".entry-title a");
    link?.replaceWith(...link.childNodes);
    list.replaceChildren(card); // edited, or back after being private
    return;
  }
  if (existing) {
    if (existing.dataset.written === card.dataset.written) {
      existing.replaceWith(card);
    } else {
      existing.remove(); // redated: it moves to its new place (or to another page)
      insertInOrder(card);
    }
  } else if (message.type === "created") {
    if (list.dataset.liveFirstPage !== "true") {
      unseen += 1;
      showUnseen();
      return;
    }
    if (!insertInOrder(card)) return; // dated before this page: it is on an older one
    list.querySelector(".empty")?.remove();
    card.classList.add("is-new");
  }
}

// A long entry's live card is its excerpt, as lists show it: its own page reads the
// entry whole again, unless a newer message came meanwhile.
async function showWhole(seq) {
  try {
    const response = await fetch(location.pathname, { headers: { Accept: "text/html" } });
    if (!response.ok || seq !== lastSeq) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const card = page.querySelector(`#entry-${single}`);
    if (!card || seq !== lastSeq) return;
    localizeTimes(card);
    list.replaceChildren(document.adoptNode(card));
  } catch {
    // Offline for a moment: the page keeps what it shows, and the next change retries.
  }
}

// Pages are in the order entries were written (a writer may date one last week): a new
// card goes where that puts it. Its place is after every card written later.
function laterThan(a, b) {
  if (a.dataset.written !== b.dataset.written) return a.dataset.written > b.dataset.written;
  return Number(a.dataset.entryId) > Number(b.dataset.entryId);
}

function insertInOrder(card) {
  for (const other of list.querySelectorAll(":scope > article.entry")) {
    if (laterThan(card, other)) {
      other.before(card);
      return true;
    }
  }
  if (list.dataset.liveHasOlder === "true") return false;
  list.append(card);
  return true;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.addEventListener("open", () => {
    socket.send(JSON.stringify({ since: lastSeq }));
    attempts = 0;
    setStatus("Live", "live");
  });
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "resync") {
      location.reload();
      return;
    }
    if (typeof message.seq !== "number" || message.seq <= lastSeq) return;  // seen already
    lastSeq = message.seq;
    apply(message);
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 1008 && event.reason === "session ended") {
      // Logged out elsewhere (a password reset, "end this session"): stop, and say so.
      // The page stays as it is, so nothing typed into it is lost.
      setStatus("Logged out: this session was ended. Log in again to follow new entries.", "ended");
      return;
    }
    setStatus("Reconnecting…", "reconnecting");
    // Exponential backoff with full jitter, capped: a restarted server is not stampeded.
    const ceiling = Math.min(MAX_DELAY, 500 * 2 ** attempts);
    attempts += 1;
    setTimeout(connect, Math.random() * ceiling);
  });
}

if (list && "WebSocket" in window) connect();
