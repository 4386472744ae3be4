// The compose and edit boxes: a Preview tab rendered by the server's own renderer
// (POST /api/preview, so it is exactly what posting shows), and Ctrl+Enter / Cmd+Enter
// to post. Without JavaScript the form works as it is.

function setUp(form) {
  const tabs = form.querySelector("[data-compose-tabs]");
  const panel = form.querySelector("[data-preview-panel]");
  const body = form.elements.body;
  if (!tabs || !panel || !body) return;
  const bodyField = body.closest(".field");
  const token = form.querySelector('input[name="csrf_token"]').value;
  const buttons = tabs.querySelectorAll("[data-tab]");
  tabs.hidden = false;
  bodyField.insertAdjacentElement("afterend", panel); // in the body's place while shown

  function select(name) {
    buttons.forEach((button) => button.setAttribute("aria-selected", String(button.dataset.tab === name)));
    bodyField.hidden = name === "preview";
    panel.hidden = name !== "preview";
  }

  async function showPreview() {
    select("preview");
    panel.textContent = "Rendering…";
    try {
      const response = await fetch(tabs.dataset.previewUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
        body: JSON.stringify({ body: body.value }),
        credentials: "same-origin",
      });
      const answer = await response.json();
      if (!response.ok) throw new Error(answer.error?.message || `The site answered ${response.status}.`);
      // The server's sanitized HTML, the same the entry's page will show.
      panel.innerHTML = answer.html || "<p class=\"empty\">Nothing to preview yet.</p>";
    } catch (error) {
      panel.textContent = `No preview: ${error.message}`;
    }
  }

  buttons.forEach((button) =>
    button.addEventListener("click", () => (button.dataset.tab === "preview" ? showPreview() : select("write"))),
  );
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

// Images: chosen, dropped on the text or pasted into it, uploaded (POST /uploads) and put
// into the text as Markdown where the cursor is.
function setUpImages(form) {
  const tools = form.querySelector("[data-image-tools]");
  const body = form.elements.body;
  if (!tools || !body) return;
  const fallback = form.parentElement.querySelector("[data-image-fallback]");
  if (fallback) fallback.hidden = true; // this does it in the form itself
  tools.hidden = false;
  const status = tools.querySelector("[data-image-status]");
  const token = form.querySelector('input[name="csrf_token"]').value;

  async function upload(file) {
    status.textContent = `Uploading ${file.name || "the image"}…`;
    const data = new FormData();
    data.append("file", file, file.name || "pasted.png");
    try {
      const response = await fetch(tools.dataset.uploadUrl, {
        method: "POST",
        body: data,
        headers: { "X-CSRF-Token": token, Accept: "application/json" },
        credentials: "same-origin",
      });
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.error || `The site answered ${response.status}.`);
      const start = body.selectionStart ?? body.value.length;
      const end = body.selectionEnd ?? start;
      const before = start > 0 && body.value[start - 1] !== "\n" ? "\n" : "";
      body.setRangeText(`${before}${answer.markdown}\n`, start, end, "end");
      body.dispatchEvent(new Event("input", { bubbles: true })); // kept as a draft too
      body.focus();
      status.textContent = "Image added: its description is between the brackets.";
    } catch (error) {
      status.textContent = `Not uploaded: ${error.message}`;
    }
  }

  const images = (list) => [...(list || [])].filter((file) => file.type.startsWith("image/"));
  tools.querySelector("[data-image-input]").addEventListener("change", (event) => {
    images(event.target.files).forEach(upload);
    event.target.value = "";
  });
  body.addEventListener("dragover", (event) => {
    if (event.dataTransfer?.types.includes("Files")) event.preventDefault();
  });
  body.addEventListener("drop", (event) => {
    const files = images(event.dataTransfer?.files);
    if (files.length) {
      event.preventDefault();
      files.forEach(upload);
    }
  });
  body.addEventListener("paste", (event) => {
    const files = images(event.clipboardData?.files);
    if (files.length) {
      event.preventDefault();
      files.forEach(upload);
    }
  });
}

document.querySelectorAll("form.entry-form").forEach((form) => {
  setUp(form);
  setUpImages(form);
});
