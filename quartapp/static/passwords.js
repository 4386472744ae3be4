// The generator page with JavaScript: regenerate through the API as options change, copy
// in one click. Without JavaScript the form posts and the server renders the same page.
const form = document.getElementById("generator-form");
const output = document.getElementById("password");
const copyButton = document.getElementById("copy");
const copyStatus = document.getElementById("copy-status");
const about = document.getElementById("about");
const dock = document.getElementById("dock");
const dockPassword = document.getElementById("dock-password");

const BOOLEAN_FIELDS = ["lowercase", "uppercase", "digits", "symbols", "avoid_ambiguous", "capitalize", "add_digit"];
const NUMBER_FIELDS = ["length", "min_lowercase", "min_uppercase", "min_digits", "min_symbols", "words"];
const TEXT_FIELDS = ["symbol_set", "exclude", "include", "separator"];

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
    if (!body[name]) body[`min_${name}`] = 0;
  }
  for (const name of TEXT_FIELDS) body[name] = String(data.get(name) ?? "");
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
    const boxes = [form.elements[`min_${name}`]];
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
  output.textContent = result.passwords[0];
  dockPassword.textContent = result.passwords[0];
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
      output.textContent = "—";
      dockPassword.textContent = "—";
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
dockPassword.textContent = output.textContent;
document.getElementById("dock-copy").addEventListener("click", () => copyButton.click());

showMode();
showClasses();
