// Passkeys (WebAuthn): add one on the two-factor page, sign in with one on the login page
// or as the second step. The server makes the options and checks every answer; this only
// carries them between it and the browser's authenticator. Forms post as forms, with the
// page's CSRF token, and the server answers JSON: {redirect} or {error}.

const supported = () => typeof window.PublicKeyCredential === "function";

function fromBase64url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function creationOptions(json) {
  const options = { ...json, challenge: fromBase64url(json.challenge) };
  options.user = { ...json.user, id: fromBase64url(json.user.id) };
  options.excludeCredentials = (json.excludeCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) }));
  return options;
}

function requestOptions(json) {
  const options = { ...json, challenge: fromBase64url(json.challenge) };
  options.allowCredentials = (json.allowCredentials || []).map((c) => ({ ...c, id: fromBase64url(c.id) }));
  return options;
}

function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const response = credential.response;
  const out = { id: credential.id, rawId: toBase64url(credential.rawId), type: credential.type, response: {} };
  out.response.clientDataJSON = toBase64url(response.clientDataJSON);
  if (response.attestationObject) {
    out.response.attestationObject = toBase64url(response.attestationObject);
    out.response.transports = response.getTransports ? response.getTransports() : [];
  } else {
    out.response.authenticatorData = toBase64url(response.authenticatorData);
    out.response.signature = toBase64url(response.signature);
    if (response.userHandle) out.response.userHandle = toBase64url(response.userHandle);
  }
  out.clientExtensionResults = credential.getClientExtensionResults();
  return out;
}

function csrfToken() {
  const input = document.querySelector('input[name="csrf_token"]');
  return input ? input.value : "";
}

async function post(url, fields) {
  const body = new URLSearchParams({ csrf_token: csrfToken(), ...fields });
  const response = await fetch(url, { method: "POST", body, credentials: "same-origin" });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = null;
  }
  if (!response.ok || answer === null) {
    const message = answer && answer.error ? answer.error : `The site answered ${response.status}. Reload the page and try again.`;
    throw new Error(message);
  }
  return answer;
}

function showError(box, message) {
  const slot = box.querySelector("[data-passkey-error]");
  if (slot) {
    slot.textContent = message;
    slot.hidden = false;
  }
}

function browserRefusal(error) {
  // The person closed the browser's dialog, or no passkey fits: say it plainly.
  if (error && error.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
  if (error && error.name === "InvalidStateError") return "This device already holds a passkey for your account.";
  return error && error.message ? error.message : "The passkey did not work.";
}

function setUpRegistration(form) {
  const button = form.querySelector("[data-passkey-button]");
  const note = form.querySelector("[data-passkey-unsupported]");
  if (!supported()) return;
  button.disabled = false;
  if (note) note.hidden = true;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.querySelector('[name="name"]').value.trim();
    if (!name) {
      showError(form, "Give the passkey a name, like the device it is on.");
      return;
    }
    button.disabled = true;
    try {
      const options = await post(form.dataset.options, {});
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
      const answer = await post(form.action, { name, credential: JSON.stringify(credentialJSON(credential)) });
      window.location.assign(answer.redirect);
    } catch (error) {
      showError(form, browserRefusal(error));
      button.disabled = false;
    }
  });
}

function setUpSignIn(box) {
  if (!supported()) return;
  box.hidden = false;
  const button = box.querySelector("[data-passkey-button]");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const options = await post(box.dataset.options, {});
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
      const remember = document.querySelector('input[name="remember"]');
      const fields = { credential: JSON.stringify(credentialJSON(credential)) };
      if (remember && remember.checked) fields.remember = "y";
      const answer = await post(box.dataset.action, fields);
      window.location.assign(answer.redirect);
    } catch (error) {
      showError(box, browserRefusal(error));
      button.disabled = false;
    }
  });
}

document.querySelectorAll("[data-passkey-register]").forEach(setUpRegistration);
document.querySelectorAll("[data-passkey-sign-in]").forEach(setUpSignIn);
