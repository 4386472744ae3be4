// Limits shown before they bite: every field with a limit (data-max, the server's own)
// counts its characters beside it, and says plainly when the text is over, instead of a
// browser's maxlength cutting a paste short without a word. The server refuses past the
// limit with the text kept, so this only warns.

const format = (n) => n.toLocaleString("en");

function setUp(field) {
  const max = Number(field.dataset.max);
  if (!Number.isInteger(max) || max <= 0) return;
  const counter = document.createElement("p");
  counter.className = "counter";
  counter.setAttribute("aria-live", "polite");
  counter.id = `${field.id || field.name}-counter`;
  field.insertAdjacentElement("afterend", counter);
  const described = field.getAttribute("aria-describedby");
  field.setAttribute("aria-describedby", described ? `${described} ${counter.id}` : counter.id);
  // Short fields show the count only near the limit; a long text always.
  const always = field.tagName === "TEXTAREA";

  function update() {
    const length = field.value.length;
    const over = length - max;
    counter.classList.toggle("over", over > 0);
    if (over > 0) {
      counter.textContent = `${format(length)} characters: ${format(over)} over the limit of ${format(max)}. Shorten it to save it.`;
      counter.hidden = false;
    } else {
      counter.textContent = `${format(length)} of ${format(max)} characters`;
      counter.hidden = !always && length < max * 0.8;
    }
  }
  field.addEventListener("input", update);
  update();
}

document.querySelectorAll("[data-max]").forEach(setUp);

// A form with a field over its limit is not sent: the server would refuse it anyway, and
// the writer sees at once where and by how much.
document.addEventListener(
  "submit",
  (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || event.submitter?.formNoValidate) return;
    const over = [...form.querySelectorAll("[data-max]")].find(
      (field) => field.value.length > Number(field.dataset.max),
    );
    if (over) {
      event.preventDefault();
      event.stopImmediatePropagation();
      over.focus();
    }
  },
  true,
);
