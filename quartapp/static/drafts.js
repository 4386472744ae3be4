// Drafts: what is typed into the compose box or an entry's edit box is kept in this
// browser at once and on the server a moment after typing stops, so a closed tab, a crash,
// a lost connection or an ended session loses nothing. On return the newer copy is put
// back with "Draft restored · Discard". Posting the box clears both (the server clears its
// own; the page after says which box was posted, data-draft-posted, for this copy).

const SAVE_AFTER_MS = 1500;
const storageKey = (owner, key) => `quartapp-draft:${owner}:${key}`;

function readLocal(owner, key) {
  try {
    const kept = JSON.parse(localStorage.getItem(storageKey(owner, key)) || "null");
    return kept && typeof kept.body === "string" ? kept : null;
  } catch {
    return null;
  }
}

function writeLocal(owner, key, draft) {
  try {
    localStorage.setItem(storageKey(owner, key), JSON.stringify(draft));
  } catch {
    // Storage full or refused (a private window): the server's copy still holds.
  }
}

function forgetLocal(owner, key) {
  try {
    localStorage.removeItem(storageKey(owner, key));
  } catch {
    // nothing kept
  }
}

// A box discarded here: which server copy (its saved_at, the server's clock) and what text.
// The discard's request can be cut short (the page reloaded at once): the next load sees
// the same copy on the server, says nothing of it, and discards it again.
const discardKey = (owner, key) => `quartapp-draft-discarded:${owner}:${key}`;

function rememberDiscard(owner, key, discarded) {
  try {
    localStorage.setItem(discardKey(owner, key), JSON.stringify(discarded));
  } catch {
    // not kept: at worst the discarded copy is offered once more
  }
}

function readDiscard(owner, key) {
  try {
    return JSON.parse(localStorage.getItem(discardKey(owner, key)) || "null");
  } catch {
    return null;
  }
}

function forgetDiscard(owner, key) {
  try {
    localStorage.removeItem(discardKey(owner, key));
  } catch {
    // nothing kept
  }
}

const valueOf = (form, name) => (form.elements[name] ? form.elements[name].value : "");

function fieldsOf(form) {
  const checked = form.querySelector('input[name="visibility"]:checked');
  return {
    title: valueOf(form, "title"),
    body: valueOf(form, "body"),
    visibility: checked ? checked.value : "",
    // "Written" as typed, with the zone it was typed in (see time.js).
    written_at: valueOf(form, "written_at"),
    time_zone: valueOf(form, "time_zone"),
  };
}

let filling = false; // fill() is putting a draft back: not something typed

function fill(form, draft) {
  filling = true;
  if (form.elements.title) form.elements.title.value = draft.title || "";
  form.elements.body.value = draft.body;
  if (draft.visibility) {
    const radio = form.querySelector(`input[name="visibility"][value="${draft.visibility}"]`);
    if (radio) radio.checked = true;
  }
  // A draft kept before drafts had a date leaves the field as the page has it.
  if (draft.written_at !== undefined && form.elements.written_at) {
    form.elements.written_at.value = draft.written_at;
    if (form.elements.time_zone) form.elements.time_zone.value = draft.time_zone || "";
  }
  form.elements.body.dispatchEvent(new Event("input", { bubbles: true }));
  filling = false;
}

const same = (a, b) =>
  a.title === b.title && a.body === b.body && (a.written_at ?? b.written_at) === b.written_at;

function setUp(form) {
  const owner = form.dataset.draftOwner;
  const key = form.dataset.draftKey;
  const url = form.dataset.draftUrl;
  const status = form.querySelector("[data-draft-status]");
  const message = form.querySelector("[data-draft-message]");
  const token = form.querySelector('input[name="csrf_token"]');
  const original = fieldsOf(form);
  let timer = null;
  let lastSent = JSON.stringify(original);
  let serverSavedAt = 0; // the newest server copy this page knows of

  function say(text) {
    if (!status) return;
    message.textContent = text;
    status.hidden = false;
  }

  // The page's requests to the server go one after another: a discard clicked while a
  // save is on its way must reach the server after it, or the save brings the draft back.
  let inFlight = Promise.resolve();
  const inTurn = (send) => {
    inFlight = inFlight.then(send, send);
    return inFlight;
  };

  function sendToServer() {
    timer = null;
    return inTurn(save);
  }

  async function save() {
    const fields = fieldsOf(form);
    const payload = JSON.stringify(fields);
    if (payload === lastSent) return;
    try {
      const response = await fetch(url, {
        method: "POST",
        body: new URLSearchParams({ csrf_token: token.value, ...fields }),
        credentials: "same-origin",
        redirect: "manual",
      });
      if (response.ok) {
        lastSent = payload;
        serverSavedAt = Date.parse((await response.json()).saved_at) || serverSavedAt;
      }
    } catch {
      // Offline: this browser's copy holds it, and the next change tries again.
    }
  }

  const discardButton = form.querySelector("[data-draft-discard]");
  function discardOnServer() {
    // keepalive: the request goes on even if the page is closed or reloaded at once.
    inTurn(() => fetch(discardButton.dataset.url, {
      method: "POST",
      body: new URLSearchParams({ csrf_token: token.value }),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      keepalive: true,
    })
      .then((response) => {
        if (response.ok) forgetDiscard(owner, key);
      })
      .catch(() => {}));
  }

  form.addEventListener("input", () => {
    if (filling) return;
    forgetDiscard(owner, key); // typed again: this is a new draft
    writeLocal(owner, key, { ...fieldsOf(form), savedAt: Date.now() });
    clearTimeout(timer);
    timer = setTimeout(sendToServer, SAVE_AFTER_MS);
  });
  // A tab being closed or hidden: send what is pending now.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden" && timer !== null) {
      clearTimeout(timer);
      const fields = fieldsOf(form);
      navigator.sendBeacon(url, new URLSearchParams({ csrf_token: token.value, ...fields }));
      timer = null;
    }
  });
  discardButton.addEventListener("click", () => {
    forgetLocal(owner, key);
    rememberDiscard(owner, key, { savedAt: serverSavedAt, fields: fieldsOf(form) });
    discardOnServer();
    clearTimeout(timer);
    timer = null;
    fill(form, key === "compose" ? { ...original, title: "", body: "", written_at: "" } : original);
    lastSent = JSON.stringify(fieldsOf(form));
    status.hidden = true;
  });
  form.addEventListener("submit", () => {
    // Kept until the page after the post says it went in (an ended session, a stale
    // page or a refused post come back to the form, which restores it). No save to the
    // server after this: the post clears its draft, and a late save would bring it back.
    clearTimeout(timer);
    timer = null;
    writeLocal(owner, key, { ...fieldsOf(form), savedAt: Date.now() });
  });

  if (!status.hidden) return; // a draft opened from the list is in the form already
  restore();

  async function restore() {
    let best = readLocal(owner, key);
    const discarded = readDiscard(owner, key);
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const server = await response.json();
        const serverTime = Date.parse(server.saved_at);
        const wasDiscarded =
          discarded && (serverTime <= discarded.savedAt || same(server, discarded.fields));
        if (wasDiscarded) {
          discardOnServer(); // its discard did not arrive
        } else {
          serverSavedAt = serverTime;
          if (!best || serverTime > (best.savedAt || 0)) best = { ...server, savedAt: serverTime };
        }
      } else if (response.status === 404) {
        forgetDiscard(owner, key); // gone from the server: nothing left to discard
      }
    } catch {
      // Offline: this browser's copy, if any.
    }
    const now = fieldsOf(form);
    if (!best || same(best, now) || (!best.body.trim() && !(best.title || "").trim())) return;
    fill(form, best);
    timer = setTimeout(sendToServer, SAVE_AFTER_MS); // the server may not have this copy
    say(`Draft restored, from ${new Date(best.savedAt).toLocaleString()}.`);
  }
}

document.querySelectorAll("form[data-draft-key]").forEach(setUp);
document.querySelectorAll("[data-draft-posted]").forEach((marker) => {
  forgetLocal(marker.dataset.draftOwner, marker.dataset.draftPosted);
});
