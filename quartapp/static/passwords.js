// The generator page with JavaScript: regenerate through the API as options change, copy
// in one click. Without JavaScript the form posts and the server renders the same page.
const form = document.getElementById("generator-form");
const output = document.getElementById("password");
const copyButton = document.getElementById("copy");
const copyStatus = document.getElementById("copy-status");
const about = document.getElementById("about");
const dock = document.getElementById("dock");
const dockPassword = document.getElementById("dock-password");

const BOOLEAN_FIELDS = ["lowercase", "uppercase", "digits", "symbols", "avoid_ambiguous", "capitalize", "add_capital", "add_digit", "add_symbol"];
const NUMBER_FIELDS = ["length", "min_lowercase", "min_uppercase", "min_digits", "min_symbols",
  "max_lowercase", "max_uppercase", "max_digits", "max_symbols", "min_classes", "max_consecutive", "words", "max_length"];
const TEXT_FIELDS = ["symbol_set", "exclude", "include", "first_character", "separator", "phrase_symbols"];

// The requirements box holds sets separated by ";" (not inside brackets), as the server
// splits it when the form is posted.
function requirements(text) {
  const items = [];
  let current = "";
  let inside = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inside) {
      inside = !(char === "]" && /^\s*([,;]|$)/.test(text.slice(i + 1)));
    } else if (char === "[") {
      inside = true;
    } else if (char === ";") {
      items.push(current);
      current = "";
      continue;
    }
    current += char;
  }
  items.push(current);
  return items.map((item) => item.trim()).filter((item) => item !== "");
}

function policy() {
  const data = new FormData(form);
  const body = { mode: data.get("mode") || "password" };
  for (const name of BOOLEAN_FIELDS) body[name] = data.has(name);
  for (const name of NUMBER_FIELDS) {
    const raw = String(data.get(name) ?? "").trim();
    if (raw !== "") body[name] = /^-?\d+$/.test(raw) ? Number(raw) : raw;
  }
  // An unticked class's "at least" box is ignored, as when the form is posted.
  for (const name of ["lowercase", "uppercase", "digits", "symbols"]) {
    if (!body[name]) {
      body[`min_${name}`] = 0;
      delete body[`max_${name}`];
    }
  }
  for (const name of TEXT_FIELDS) body[name] = String(data.get(name) ?? "");
  if (data.has("require")) body.require = requirements(String(data.get("require")));
  return body;
}

function showMode() {
  const mode = new FormData(form).get("mode") || "password";
  for (const fieldset of form.querySelectorAll("fieldset[data-mode]")) {
    fieldset.hidden = fieldset.dataset.mode !== mode;
  }
}

// The boxes of a class turned off ("at least", "Symbols to use") are not in use: shown so,
// and read-only rather than disabled, so that saving the rules keeps what they hold.
function showClasses() {
  for (const name of ["lowercase", "uppercase", "digits", "symbols"]) {
    const on = form.elements[name].checked;
    const boxes = [form.elements[`min_${name}`], form.elements[`max_${name}`]];
    if (name === "symbols") boxes.push(form.elements.symbol_set);
    for (const box of boxes) {
      box.readOnly = !on;
      box.classList.toggle("off", !on);
      box.setAttribute("aria-disabled", String(!on));
    }
  }
}

// The API names each bad field with what is wrong with it ("must be between 4 and 128");
// next to the field, that is a sentence.
function sentence(message) {
  return message ? message[0].toUpperCase() + message.slice(1) : "";
}

function showErrors(fields) {
  for (const element of document.querySelectorAll("[data-error-for]")) {
    const message = fields[element.dataset.errorFor];
    element.textContent = sentence(message);
    element.hidden = !message;
  }
}

function showResult(result) {
  showPassword(result.passwords[0]);
  remember(result.passwords[0]);
  document.getElementById("strength-meter").value = result.entropy_bits;
  document.getElementById("entropy").textContent = result.entropy_bits;
  document.getElementById("strength").textContent = result.strength;
  document.getElementById("count-words").textContent = result.count_in_words;
  document.getElementById("time-slow").textContent = result.time_to_search_half[0].time;
  document.getElementById("time-fast").textContent = result.time_to_search_half[1].time;
  about.hidden = false;
  copyButton.disabled = false;
  copyStatus.textContent = "";
}

let pending = null;
let lastRequested = JSON.stringify(policy());
async function regenerate() {
  pending?.abort();
  pending = new AbortController();
  lastRequested = JSON.stringify(policy());
  try {
    const response = await fetch("/api/passwords", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: lastRequested,
      credentials: "same-origin",
      cache: "no-store",
      signal: pending.signal,
    });
    const result = await response.json();
    if (response.ok) {
      showErrors({});
      showResult(result);
    } else {
      showErrors(result.error?.fields ?? {});
      showPassword(null);
      about.hidden = true;
      copyButton.disabled = true;
      copyStatus.textContent = result.error?.fields ? "" : result.error?.message ?? "Could not generate.";
    }
  } catch (error) {
    if (error.name !== "AbortError") copyStatus.textContent = "Could not reach the server; the form still works.";
  }
}

// "input" and "change" both fire for one edit, and "change" fires again on blur (say, when
// the Copy button is clicked): regenerate only when the rules really changed, or the
// password would change under the user's cursor right after they copied it.
let timer = null;
function soon() {
  clearTimeout(timer);
  timer = setTimeout(() => {
    if (JSON.stringify(policy()) !== lastRequested) regenerate();
  }, 150);
}

form.addEventListener("input", () => { showMode(); showClasses(); soon(); });
form.addEventListener("change", () => { showMode(); showClasses(); soon(); });

// Enter in the name box saves the rules, as its own button would; elsewhere in the form
// it regenerates.
const saveButton = form.querySelector("fieldset.save button[formaction]");
form.elements.name?.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && saveButton) {
    event.preventDefault();
    form.requestSubmit(saveButton);
  }
});
form.addEventListener("submit", (event) => {
  // Only "Generate"/"Regenerate" are handled here; saving still posts the form.
  const action = event.submitter?.getAttribute("formaction") ?? form.getAttribute("action");
  if (action === form.getAttribute("action")) {
    event.preventDefault();
    regenerate();
  }
});

// "Copied" is news for a moment, not a state: it goes after a few seconds (or with the
// next password).
let saidTimer = null;
function say(message) {
  copyStatus.textContent = message;
  clearTimeout(saidTimer);
  saidTimer = setTimeout(() => { copyStatus.textContent = ""; }, 3000);
}

copyButton.hidden = false;
copyButton.addEventListener("click", async () => {
  const text = output.textContent;
  try {
    await navigator.clipboard.writeText(text);
    say("Copied");
  } catch {
    const range = document.createRange();
    range.selectNodeContents(output);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    copyStatus.textContent = "Press Ctrl+C (⌘C) to copy";
  }
});

// On a narrow screen, while the password box is scrolled out of view (the rules are below
// it), a bar at the bottom shows the password and copies it.
const narrow = window.matchMedia("(max-width: 540px)");
let resultInView = true;
function showDock() {
  dock.hidden = resultInView || !narrow.matches;
  // Room below the page's end, so that the bar never covers its last lines.
  document.body.style.paddingBottom = dock.hidden ? "" : `${dock.offsetHeight}px`;
}
new IntersectionObserver(([seen]) => {
  resultInView = seen.isIntersecting;
  showDock();
}).observe(output);
narrow.addEventListener("change", showDock);
document.getElementById("dock-copy").addEventListener("click", () => copyButton.click());

showMode();
showClasses();

// --- Reading the password: each character marked with its class, spelled aloud ----------
// The same classes and words as quartapp/passwords/display.py (the page without JavaScript).
const NATO = {
  a: "alpha", b: "bravo", c: "charlie", d: "delta", e: "echo", f: "foxtrot", g: "golf",
  h: "hotel", i: "india", j: "juliet", k: "kilo", l: "lima", m: "mike", n: "november",
  o: "oscar", p: "papa", q: "quebec", r: "romeo", s: "sierra", t: "tango", u: "uniform",
  v: "victor", w: "whiskey", x: "x-ray", y: "yankee", z: "zulu",
};
const DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const SYMBOLS = {
  "!": "exclamation mark", '"': "double quote", "#": "hash", $: "dollar sign",
  "%": "percent sign", "&": "ampersand", "'": "apostrophe", "(": "left parenthesis",
  ")": "right parenthesis", "*": "asterisk", "+": "plus sign", ",": "comma",
  "-": "hyphen", ".": "dot", "/": "slash", ":": "colon", ";": "semicolon",
  "<": "less-than sign", "=": "equals sign", ">": "greater-than sign",
  "?": "question mark", "@": "at sign", "[": "left square bracket", "\\": "backslash",
  "]": "right square bracket", "^": "caret", _: "underscore", "`": "backtick",
  "{": "left curly brace", "|": "vertical bar", "}": "right curly brace", "~": "tilde",
};

function character(char) {
  if (/^[a-z]$/.test(char)) return { kind: "lower", spoken: NATO[char] };
  if (/^[A-Z]$/.test(char)) return { kind: "upper", spoken: `capital ${NATO[char.toLowerCase()].toUpperCase()}` };
  if (/^[0-9]$/.test(char)) return { kind: "digit", spoken: DIGITS[Number(char)] };
  if (Object.hasOwn(SYMBOLS, char)) return { kind: "symbol", spoken: SYMBOLS[char] };
  return { kind: "other", spoken: `U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}` };
}

// One span a character and nothing between them: the element's text, and what a selection
// of it copies, is exactly the password.
function classed(password) {
  return Array.from(password, (char) => {
    const span = document.createElement("span");
    span.className = `ch ch-${character(char).kind}`;
    span.textContent = char;
    return span;
  });
}

function spelledItems(password) {
  return Array.from(password, (char) => {
    const item = document.createElement("li");
    const spoken = document.createElement("span");
    spoken.className = "spoken";
    spoken.textContent = character(char).spoken;
    item.append(...classed(char), " ", spoken);
    return item;
  });
}

const spellButton = document.getElementById("spell");
const spelledDetails = document.getElementById("spelled-details");
const spelledList = document.getElementById("spelled");

// The password shown in the box, the dock and the spelled list; null: none (rules to fix).
function showPassword(password) {
  if (password === null) {
    output.textContent = "—";
    dockPassword.textContent = "—";
    spelledList.replaceChildren();
  } else {
    output.replaceChildren(...classed(password));
    dockPassword.replaceChildren(...classed(password));
    spelledList.replaceChildren(...spelledItems(password));
  }
  spellButton.disabled = password === null;
  spelledDetails.hidden = password === null || spellButton.getAttribute("aria-pressed") !== "true";
}

function shownPassword() {
  return output.textContent === "—" ? null : output.textContent;
}

// With JavaScript the "Spell it" button opens and closes the reading (the details' own
// summary is for the page without it).
spelledDetails.querySelector("summary").hidden = true;
spelledDetails.open = true;
spellButton.hidden = false;
spellButton.addEventListener("click", () => {
  const pressed = spellButton.getAttribute("aria-pressed") !== "true";
  spellButton.setAttribute("aria-pressed", String(pressed));
  spelledDetails.hidden = !pressed || shownPassword() === null;
});

// --- Length slider: beside the number, in step with it both ways --------------------------
// It has no name, so the form never sends it; moving it sets the number, and the form's own
// "input" listener (the event bubbles on) regenerates, debounced.
const lengthBox = document.getElementById("length");
const lengthSlider = document.getElementById("length-slider");

function sliderFollowsBox() {
  const raw = lengthBox.value.trim();
  const length = Number(raw);
  if (/^\d+$/.test(raw) && length >= Number(lengthSlider.min) && length <= Number(lengthSlider.max)) {
    lengthSlider.value = raw;
  }
}

lengthSlider.addEventListener("input", () => { lengthBox.value = lengthSlider.value; });
lengthBox.addEventListener("input", sliderFollowsBox);
sliderFollowsBox();
lengthSlider.hidden = false;

// --- Keys: R regenerates, C copies, unless the user is typing in a field -----------------
function typingIn(target) {
  return target instanceof Element
    && (target.matches("input, textarea, select") || target.isContentEditable);
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.repeat || event.isComposing) return;
  if (event.ctrlKey || event.metaKey || event.altKey || typingIn(event.target)) return;
  const key = event.key.toLowerCase();
  if (key === "r") {
    event.preventDefault();
    regenerate();
  } else if (key === "c" && !copyButton.disabled) {
    event.preventDefault();
    copyButton.click();
  }
});
document.getElementById("shortcuts").hidden = false;

// --- History: this tab's last passwords, in sessionStorage only ---------------------------
// Passwords go to sessionStorage (this tab, until it closes) and nowhere else: never a URL,
// a cookie, localStorage, the console or a request. Only the choice to keep no history is
// kept in localStorage, so that it holds in every tab.
const HISTORY_KEY = "passwords.history";
const HISTORY_OFF_KEY = "passwords.history-off";
const HISTORY_MAX = 20;
const historySection = document.getElementById("history");
const historyList = document.getElementById("history-list");
const historyOn = document.getElementById("history-on");
const historyStatus = document.getElementById("history-status");

function storageWorks() {
  try {
    sessionStorage.setItem(`${HISTORY_KEY}.probe`, "1");
    sessionStorage.removeItem(`${HISTORY_KEY}.probe`);
    localStorage.getItem(HISTORY_OFF_KEY);
    return true;
  } catch {
    return false;
  }
}
const historyUsable = storageWorks();

function readHistory() {
  try {
    const entries = JSON.parse(sessionStorage.getItem(HISTORY_KEY) ?? "[]");
    return Array.isArray(entries) ? entries.slice(0, HISTORY_MAX) : [];
  } catch {
    return [];
  }
}

function historyKept() {
  return historyUsable && localStorage.getItem(HISTORY_OFF_KEY) !== "1";
}

// "16 chars · a–z A–Z 0–9 symbols · ≥1 each", or "6 words, separator _", from the rules
// the password was asked for with.
function rulesSummary(body, password) {
  if (body.mode === "passphrase") {
    const parts = [`${body.words ?? 6} words`, body.separator ? `separator ${body.separator}` : "no separator"];
    if (body.capitalize) parts.push("capitalized");
    else if (body.add_capital) parts.push("a capital");
    if (body.add_digit) parts.push("a digit");
    if (body.add_symbol) parts.push("a symbol");
    if (body.max_length) parts.push(`at most ${body.max_length} characters`);
    return parts.join(", ");
  }
  const classes = [["lowercase", "a–z"], ["uppercase", "A–Z"], ["digits", "0–9"], ["symbols", "symbols"]]
    .filter(([name]) => body[name]);
  const parts = [`${Array.from(password).length} chars`, classes.map(([, label]) => label).join(" ")];
  const minimums = classes.map(([name, label]) => [label, Number(body[`min_${name}`] ?? 1)]);
  if (minimums.length && minimums.every(([, least]) => least === minimums[0][1])) {
    if (minimums[0][1] > 0) parts.push(`≥${minimums[0][1]} each`);
  } else {
    parts.push(minimums.filter(([, least]) => least > 0).map(([label, least]) => `≥${least} ${label}`).join(", "));
  }
  const maximums = classes.filter(([name]) => body[`max_${name}`] != null)
    .map(([name, label]) => `≤${body[`max_${name}`]} ${label}`);
  if (maximums.length) parts.push(maximums.join(", "));
  if (body.min_classes > 0) parts.push(`${body.min_classes} classes`);
  if (body.max_consecutive) parts.push(`≤${body.max_consecutive} in a row`);
  if (body.first_character && body.first_character !== "any") parts.push(`${body.first_character} first`);
  if (body.require?.length) parts.push(`one of ${body.require.join(" and one of ")}`);
  if (body.avoid_ambiguous) parts.push("no look-alikes");
  if (body.exclude) parts.push(`never ${body.exclude}`);
  if (body.include) parts.push(`also ${body.include}`);
  return parts.filter(Boolean).join(" · ");
}

function remember(password) {
  if (!historyKept()) return;
  const entry = { password, rules: rulesSummary(JSON.parse(lastRequested), password), at: Date.now() };
  sessionStorage.setItem(HISTORY_KEY, JSON.stringify([entry, ...readHistory()].slice(0, HISTORY_MAX)));
  showHistory();
}

function historyEntry(entry) {
  const item = document.createElement("li");
  const shown = document.createElement("span");
  shown.className = "password-line mono";
  shown.append(...classed(entry.password));
  const about = document.createElement("span");
  about.className = "hint history-rules";
  const when = document.createElement("time");
  const at = new Date(entry.at);
  when.dateTime = at.toISOString();
  when.textContent = at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  about.append(`${entry.rules} · `, when);
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "secondary small";
  copy.textContent = "Copy";
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(entry.password);
      historyStatus.textContent = "Copied";
    } catch {
      historyStatus.textContent = "Select it and press Ctrl+C (⌘C) to copy";
    }
  });
  item.append(shown, copy, about);
  return item;
}

function showHistory() {
  const entries = historyKept() ? readHistory() : [];
  historyList.replaceChildren(...entries.map(historyEntry));
  document.getElementById("history-count").textContent = String(entries.length);
  document.getElementById("history-details").hidden = entries.length === 0;
  document.getElementById("history-empty").textContent = historyKept()
    ? "No passwords yet."
    : "The history is off: nothing is kept.";
  document.getElementById("history-empty").hidden = entries.length > 0;
  historyStatus.textContent = "";
}

function clearHistory() {
  sessionStorage.removeItem(HISTORY_KEY);
  showHistory();
}

if (historyUsable) {
  historyOn.checked = historyKept();
  historyOn.addEventListener("change", () => {
    if (historyOn.checked) {
      localStorage.removeItem(HISTORY_OFF_KEY);
    } else {
      localStorage.setItem(HISTORY_OFF_KEY, "1");
    }
    clearHistory();
  });
  document.getElementById("history-clear").addEventListener("click", clearHistory);
  historySection.hidden = false;
}

// The server's first password: shown by class, spelled, and kept like any other.
const firstPassword = shownPassword();
showPassword(firstPassword);
if (firstPassword !== null) remember(firstPassword);
showHistory();

// --- Which site or system? ------------------------------------------------------------------
// The known domains are fetched once, when the box is first used, for its suggestions;
// choosing one of them loads its rules at once (the form's GET, as without JavaScript).
const siteBox = document.getElementById("site");
const siteSuggestions = document.getElementById("site-suggestions");
let knownSites = null;

async function suggestSites() {
  if (knownSites !== null) return;
  knownSites = new Set();
  try {
    const response = await fetch(siteBox.dataset.suggestions, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const domains = await response.json();
    knownSites = new Set(domains);
    const options = document.createDocumentFragment();
    for (const domain of domains) {
      const option = document.createElement("option");
      option.value = domain;
      options.append(option);
    }
    siteSuggestions.append(options);
  } catch {
    // No suggestions: the box still takes a domain typed in full.
  }
}

if (siteBox) {
  siteBox.addEventListener("focus", suggestSites, { once: true });
  // A suggestion picked (not a letter typed: "chase.com" may be on its way to
  // "chase.com.au") loads that site's rules.
  siteBox.addEventListener("input", (event) => {
    const picked = !(event instanceof InputEvent) || event.inputType === "insertReplacementText";
    if (picked && knownSites?.has(siteBox.value.trim().toLowerCase())) siteBox.form.requestSubmit();
  });
}
