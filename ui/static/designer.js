// The admin designer's enhancements. Every action also works as a plain form without it.
"use strict";

/** Show only the options of the chosen field type (all stay visible without scripts). */
function followFieldType(select) {
  const form = select.form;
  const update = () => {
    for (const option of form.querySelectorAll(".designer-option[data-types]")) {
      const types = option.dataset.types.split(" ");
      option.classList.toggle("hidden", !types.includes(select.value));
    }
    const hint = form.querySelector("[data-no-options]");
    if (hint) hint.classList.add("hidden");  // the note is for pages without scripts
    const fieldset = form.querySelector(".designer-options");
    if (fieldset) {
      const any = fieldset.querySelector(".designer-option[data-types]:not(.hidden)");
      fieldset.classList.toggle("hidden", !any);
    }
  };
  select.addEventListener("change", update);
  update();
}

/** Drag rows of a `[data-designer-sortable]` body; dropping submits the new order to the
 * page's `[data-order-form]` (its `order` input: names, comma-separated), which previews
 * the change like the arrow buttons do. */
function sortableRows(body, orderForm) {
  let dragged = null;
  const clearMarks = () => {
    for (const row of body.querySelectorAll(".designer-drop-before, .designer-drop-after")) {
      row.classList.remove("designer-drop-before", "designer-drop-after");
    }
  };
  body.addEventListener("dragstart", (event) => {
    const row = event.target.closest("tr[draggable=true]");
    if (!row) return;
    dragged = row;
    row.classList.add("designer-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", row.dataset.designerField || "");
  });
  body.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("designer-dragging");
    dragged = null;
    clearMarks();
  });
  body.addEventListener("dragover", (event) => {
    const row = event.target.closest("tr[draggable=true]");
    if (!dragged || !row || row === dragged) return;
    event.preventDefault();
    clearMarks();
    const box = row.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    row.classList.add(after ? "designer-drop-after" : "designer-drop-before");
  });
  body.addEventListener("drop", (event) => {
    const row = event.target.closest("tr[draggable=true]");
    if (!dragged || !row || row === dragged) return;
    event.preventDefault();
    const box = row.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    row.parentNode.insertBefore(dragged, after ? row.nextSibling : row);
    clearMarks();
    const names = [...body.querySelectorAll("tr[draggable=true]")]
      .map((item) => item.dataset.designerField);
    orderForm.querySelector("input[name=order]").value = names.join(",");
    orderForm.submit();
  });
}

function start() {
  for (const select of document.querySelectorAll("select[data-field-type]")) {
    followFieldType(select);
  }
  const body = document.querySelector("[data-designer-sortable]");
  const orderForm = document.querySelector("[data-order-form]");
  if (body && orderForm) sortableRows(body, orderForm);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
