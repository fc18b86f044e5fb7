// The visual condition builder (designer/criteria.html): add and remove rows and groups,
// and offer only the operators the chosen field supports. The builder works without this
// script (a blank row is always there); the script only saves round trips.
"use strict";

let counter = 1000;

function fromTemplate(template, placeholder) {
  counter += 1;
  const html = template.innerHTML.split(placeholder).join(String(counter));
  const holder = document.createElement("div");
  holder.innerHTML = html;
  return holder.firstElementChild;
}

function ownTemplate(container, kind) {
  return container.querySelector(`:scope > template[data-criteria-template="${kind}"]`);
}

/** Offer only the operators of the chosen field (all when it names none). */
function limitOperators(row) {
  const field = row.querySelector("select[data-criteria-field]");
  const op = row.querySelector("select[data-criteria-op]");
  if (!field || !op) return;
  const chosen = field.selectedOptions[0];
  const allowed = chosen && chosen.dataset.ops ? chosen.dataset.ops.split(" ") : null;
  for (const option of op.options) {
    option.hidden = allowed !== null && !allowed.includes(option.value);
    option.disabled = option.hidden;
  }
  if (op.selectedOptions[0] && op.selectedOptions[0].disabled) {
    const first = [...op.options].find((option) => !option.disabled);
    if (first) op.value = first.value;
  }
}

function onClick(event) {
  const button = event.target.closest("button[data-criteria]");
  if (!button) return;
  event.preventDefault();
  const kind = button.dataset.criteria;
  const scope = button.closest("[data-criteria-group], [data-criteria-builder]");
  if (kind === "add") {
    const row = fromTemplate(ownTemplate(scope, "row"), "__r__");
    scope.querySelector(":scope > [data-criteria-rows]").append(row);
    limitOperators(row);
    row.querySelector("select").focus();
  } else if (kind === "remove") {
    const row = button.closest("[data-criteria-row]");
    const rows = row.parentElement;
    const next = row.nextElementSibling || row.previousElementSibling;
    if (rows.querySelectorAll(":scope > [data-criteria-row]").length > 1) {
      row.remove();
    } else {
      row.querySelector("select[data-criteria-field]").value = "";
      row.querySelector("input[data-criteria-value]").value = "";
    }
    (next || rows).querySelector("select, input")?.focus();
  } else if (kind === "add-group") {
    const group = fromTemplate(ownTemplate(scope, "group"), "__g__");
    scope.querySelector(":scope > [data-criteria-groups]").append(group);
    group.querySelector("select").focus();
  } else if (kind === "remove-group") {
    const builder = scope.parentElement.closest("[data-criteria-builder]");
    scope.remove();
    builder?.querySelector("select")?.focus();
  }
}

document.documentElement.classList.add("js-ready");
document.addEventListener("click", onClick);
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-criteria-field]")) {
    limitOperators(event.target.closest("[data-criteria-row]"));
  }
});
document.addEventListener("DOMContentLoaded", () => {
  for (const row of document.querySelectorAll("[data-criteria-row]")) limitOperators(row);
});
