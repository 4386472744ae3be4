// Ask before a form marked data-confirm is sent (deleting an entry or an account).
// Without JavaScript the form still works; this only adds the second thought.
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  if (question && !window.confirm(question)) event.preventDefault();
});
