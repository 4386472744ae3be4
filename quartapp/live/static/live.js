// Live entries on the home page and profiles: new ones appear at the top, edited ones
// change in place, deleted ones disappear. Resumes from the last seq after any break.
import { localizeTimes } from "/static/time.js";

const list = document.querySelector("[data-live-seq]");
const status = document.querySelector("[data-live-status]");
const MAX_DELAY = 30_000;

let lastSeq = Number(list?.dataset.liveSeq ?? 0);
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

function belongsHere(card) {
  const author = list.dataset.liveAuthor;
  return !author || card.dataset.author === author;
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

function apply(message) {
  const existing = document.getElementById(`entry-${message.entry_id}`);
  if (message.type === "deleted") {
    existing?.remove();
    return;
  }
  const card = cardFrom(message.html);
  if (!card || !belongsHere(card)) return;
  localizeTimes(card);
  if (existing) {
    existing.replaceWith(card);
  } else if (message.type === "created") {
    if (list.dataset.liveFirstPage !== "true") {
      unseen += 1;
      showUnseen();
      return;
    }
    list.querySelector(".empty")?.remove();
    card.classList.add("is-new");
    list.prepend(card);
  }
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
  socket.addEventListener("close", () => {
    setStatus("Reconnecting…", "reconnecting");
    // Exponential backoff with full jitter, capped: a restarted server is not stampeded.
    const ceiling = Math.min(MAX_DELAY, 500 * 2 ** attempts);
    attempts += 1;
    setTimeout(connect, Math.random() * ceiling);
  });
}

if (list && "WebSocket" in window) connect();
