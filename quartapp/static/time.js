// Show every <time datetime="..."> in the reader's own time zone and locale.
const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function localizeTimes(root = document) {
  for (const element of root.querySelectorAll("time[datetime]")) {
    const moment = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(moment.getTime())) continue;
    element.title = moment.toISOString();
    element.textContent = format.format(moment);
  }
}

localizeTimes();

// Date-and-time fields (an entry's "Written"): the page gives them in UTC (data-utc);
// show them in the writer's zone, and send that zone along, so the server reads the
// field as the writer meant it.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
const pad = (n) => String(n).padStart(2, "0");
const localValue = (moment) =>
  `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}T${pad(moment.getHours())}:${pad(moment.getMinutes())}`;

for (const field of document.querySelectorAll('input[type="datetime-local"]')) {
  const zoneField = field.form?.elements.time_zone;
  if (field.dataset.utc && field.value) {
    const moment = new Date(`${field.value}Z`);
    if (!Number.isNaN(moment.getTime())) field.value = localValue(moment);
  }
  field.max = localValue(new Date());
  if (zoneField && (field.dataset.utc || !zoneField.value)) zoneField.value = zone;
}
