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
