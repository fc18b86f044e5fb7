// Arranging rows in the designer: drag and drop, up/down buttons, "move to section" selects
// and "add" buttons. Each list is a [data-arrange=<kind>] container of [data-arrange-item]
// rows; a row's place is posted in its hidden input[data-position=<kind>], renumbered in
// page order after every change. Without this script the up/down buttons submit
// `move=<kind>-<i>-up|down` and the server redraws the editor, so nothing needs a mouse or
// a script.
"use strict";

let dragging = null;
let counter = 2000;

function renumber(kind) {
  document.querySelectorAll(`input[data-position="${kind}"]`).forEach((input, index) => {
    input.value = String(index);
  });
}

function kindOf(item) {
  return item.parentElement.closest("[data-arrange]")?.dataset.arrange;
}

function placeIn(item, container, before) {
  container.insertBefore(item, before || null);
  const select = item.querySelector(":scope [data-section-select]");
  if (select && container.dataset.section !== undefined) select.value = container.dataset.section;
  renumber(kindOf(item));
}

function move(button) {
  const item = button.closest("[data-arrange-item]");
  const kind = kindOf(item);
  const siblings = [...item.parentElement.children].filter((el) => el.matches("[data-arrange-item]"));
  const place = siblings.indexOf(item);
  if (button.dataset.move === "up" && place > 0) {
    item.parentElement.insertBefore(item, siblings[place - 1]);
  } else if (button.dataset.move === "down" && place < siblings.length - 1) {
    item.parentElement.insertBefore(siblings[place + 1], item);
  }
  renumber(kind);
  button.focus();
}

function addRow(button) {
  const kind = button.dataset.addRow;
  const template = document.querySelector(`template[data-row-template="${kind}"]`);
  const container = document.querySelector(`[data-arrange="${kind}"]`);
  if (!template || !container) return;
  counter += 1;
  const holder = document.createElement("div");
  holder.innerHTML = template.innerHTML.split("__i__").join(String(counter));
  const row = holder.firstElementChild;
  // the template knows the saved states; offer the ones typed since as well
  const typed = [...document.querySelectorAll("input[data-state-name]")]
    .map((input) => input.value.trim()).filter(Boolean);
  for (const select of row.querySelectorAll("select[data-state-select]")) {
    for (const name of typed) {
      if (![...select.options].some((option) => option.value === name)) {
        select.append(new Option(name, name));
      }
    }
  }
  container.append(row);
  renumber(kind);
  row.querySelector("input, select, textarea")?.focus();
}

document.documentElement.classList.add("js-ready");

document.addEventListener("click", (event) => {
  const moveButton = event.target.closest("button[data-move]");
  if (moveButton) {
    event.preventDefault();
    move(moveButton);
    return;
  }
  const addButton = event.target.closest("button[data-add-row]");
  if (addButton) {
    event.preventDefault();
    addRow(addButton);
    return;
  }
  const removeButton = event.target.closest("button[data-remove-row]");
  if (removeButton) {
    event.preventDefault();
    const item = removeButton.closest("[data-arrange-item]");
    const kind = kindOf(item);
    const next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    renumber(kind);
    next?.querySelector("input, select, button")?.focus();
  }
});

// A state typed in the pipeline editor is offered at once by the transitions' state
// selects (and renamed there when its name changes).
document.addEventListener("input", (event) => {
  const input = event.target.closest("input[data-state-name]");
  if (!input) return;
  const before = input.dataset.current ?? input.defaultValue;
  const after = input.value.trim();
  input.dataset.current = after;
  for (const select of document.querySelectorAll("select[data-state-select]")) {
    const existing = before ? [...select.options].find((option) => option.value === before) : null;
    if (existing && after) {
      existing.value = after;
      existing.textContent = after;
    } else if (existing) {
      existing.remove();
    } else if (after && ![...select.options].some((option) => option.value === after)) {
      select.append(new Option(after, after));
    }
  }
});

document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-section-select]");
  if (!select) return;
  const item = select.closest("[data-arrange-item]");
  const kind = kindOf(item);
  const target = document.querySelector(
    `[data-arrange="${kind}"][data-section="${CSS.escape(select.value)}"]`);
  if (target && target !== item.parentElement) {
    placeIn(item, target, null);
    select.focus();
  }
});

document.addEventListener("dragstart", (event) => {
  const item = event.target.closest?.("[data-arrange-item]");
  if (!item || item !== event.target) return;
  if (pressed?.closest?.("input, textarea, select, button")) {
    event.preventDefault();
    return;
  }
  dragging = item;
  item.classList.add("dragging");
  event.dataTransfer.effectAllowed = "move";
  event.dataTransfer.setData("text/plain", item.dataset.arrangeItem || "");
});

// A drag that starts in an input (selecting text) or on a button is not a row drag.
let pressed = null;
document.addEventListener("mousedown", (event) => { pressed = event.target; });

document.addEventListener("dragend", () => {
  dragging?.classList.remove("dragging");
  dragging = null;
});

function dropTarget(event) {
  if (!dragging) return null;
  const kind = kindOf(dragging);
  return event.target.closest?.(`[data-arrange="${kind}"]`) || null;
}

document.addEventListener("dragover", (event) => {
  if (dropTarget(event)) event.preventDefault();
});

document.addEventListener("drop", (event) => {
  const container = dropTarget(event);
  if (!container) return;
  event.preventDefault();
  let over = event.target.closest("[data-arrange-item]");
  while (over && over.parentElement !== container) {
    over = over.parentElement.closest("[data-arrange-item]");
  }
  let before = null;
  if (over && over !== dragging) {
    const box = over.getBoundingClientRect();
    before = event.clientY < box.top + box.height / 2 ? over : over.nextElementSibling;
  }
  placeIn(dragging, container, before);
});
