// Calendar: drag a meeting or task onto another day (or hour, in the day view) to
// reschedule it: the field the item sits on (its data-start-field: a meeting's starts_at, a
// timed task's due_at, an all-day task's due_date) moves. The move is a PATCH of the record through the records API with If-Match
// (its version when the page was drawn); a refusal shows the server's message and the item
// stays where it was. Selecting a slot (its "+" or hour link) opens the meeting form with
// the start filled in; that works without scripts.
"use strict";

import { csrfToken } from "/app/static/metacrm.js";

const root = document.querySelector("[data-calendar]");
const message = document.querySelector("[data-cal-message]");
const texts = document.querySelector("[data-cal-texts]");

function say(text, ok) {
  if (!message) return;
  message.textContent = text;
  message.classList.toggle("cal-message-ok", ok);
  message.classList.toggle("cal-message-error", !ok);
}

/** Minutes east of UTC of `zone` at the instant `ms`. */
function offsetMinutes(zone, ms) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(ms));
  const value = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(value("year"), value("month") - 1, value("day"), value("hour"),
                        value("minute"), value("second"));
  return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000);
}

/** The UTC instant of a wall-clock time ("2026-03-09", 9, 30) in `zone`, as RFC 3339. */
function utcOf(day, hour, minute, zone) {
  const [y, m, d] = day.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d, hour, minute);
  let ms = wall - offsetMinutes(zone, wall) * 60000;
  ms = wall - offsetMinutes(zone, ms) * 60000;
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

async function move(item, target) {
  const day = target.dataset.day;
  const entity = item.dataset.entity;
  let body;
  const field = item.dataset.startField;
  if (item.dataset.allDay === "true") {
    body = { [field]: day };
  } else {
    const [, time] = item.dataset.start.split("T");
    let [hour, minute] = time.split(":").map(Number);
    if (target.dataset.hour !== undefined) { hour = Number(target.dataset.hour); minute = 0; }
    const starts = utcOf(day, hour, minute, root.dataset.zone);
    body = { [field]: starts };
    if (item.dataset.endField) {
      const ends = new Date(Date.parse(starts) + Number(item.dataset.minutes) * 60000);
      body[item.dataset.endField] = ends.toISOString().replace(".000Z", "Z");
    }
  }
  const response = await fetch(`/api/v1/records/${entity}/${item.dataset.id}`, {
    method: "PATCH", credentials: "same-origin", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", "Accept": "application/json",
               "If-Match": item.dataset.etag, "X-CSRFToken": csrfToken() },
  });
  if (response.ok) {
    say(texts.dataset.moved, true);
    window.location.reload();
    return;
  }
  if (response.status === 412) {
    say(texts.dataset.stale, false);
    window.location.reload();
    return;
  }
  let reason = String(response.status);
  try {
    const problem = await response.json();
    const first = (problem.errors || [])[0];
    reason = first && first.message ? first.message : (problem.detail || problem.title);
  } catch (error) { /* not JSON: the status says enough */ }
  say(texts.dataset.refused.replace("{reason}", reason), false);
}

if (root) {
  let dragged = null;
  for (const item of document.querySelectorAll("[data-cal-item][draggable=true]")) {
    item.addEventListener("dragstart", (event) => {
      dragged = item;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", item.dataset.id);
    });
    item.addEventListener("dragend", () => { dragged = null; });
  }
  for (const target of document.querySelectorAll("[data-cal-drop]")) {
    target.addEventListener("dragover", (event) => {
      if (dragged) { event.preventDefault(); target.classList.add("cal-drop-over"); }
    });
    target.addEventListener("dragleave", () => target.classList.remove("cal-drop-over"));
    target.addEventListener("drop", (event) => {
      event.preventDefault();
      target.classList.remove("cal-drop-over");
      if (dragged) move(dragged, target);
    });
  }
}
