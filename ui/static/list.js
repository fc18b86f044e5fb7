// List view enhancements: filter builder rows, select all, confirmations, inline edit.
// The page works without this script: every action is a plain form or link.
import { postForm } from "/app/static/metacrm.js";


const ALL_OPS = ["eq", "ne", "contains", "starts_with", "gt", "gte", "lt", "lte", "between",
  "in", "not_in", "is_null"];

// --- filter builder ------------------------------------------------------------------

function syncRow(row) {
  const fieldSelect = row.querySelector("[data-filter-field]");
  const opSelect = row.querySelector("[data-filter-op]");
  const valueInput = row.querySelector("[data-filter-value]");
  const option = fieldSelect.selectedOptions[0];
  const ops = option && option.value ? option.dataset.operators.split(" ") : ALL_OPS;
  for (const item of opSelect.options) {
    const offered = ops.includes(item.value);
    item.hidden = !offered;
    item.disabled = !offered;
  }
  if (opSelect.selectedOptions[0] && opSelect.selectedOptions[0].disabled) {
    opSelect.value = ops[0];
  }
  const suggest = option && option.dataset.suggest;
  if (suggest) valueInput.setAttribute("list", suggest);
  else valueInput.removeAttribute("list");
}

function setUpBuilder(form) {
  const container = form.querySelector(".filter-conditions");
  const rows = () => [...form.querySelectorAll("[data-filter-row]")];
  for (const row of rows()) syncRow(row);
  form.addEventListener("change", (event) => {
    const row = event.target.closest("[data-filter-row]");
    if (row && event.target.matches("[data-filter-field]")) syncRow(row);
  });
  form.addEventListener("click", (event) => {
    const remove = event.target.closest("[data-remove-row]");
    if (remove) {
      const row = remove.closest("[data-filter-row]");
      if (rows().length > 1) row.remove();
      else {
        row.querySelector("[data-filter-field]").value = "";
        row.querySelector("[data-filter-value]").value = "";
        syncRow(row);
      }
    }
    if (event.target.closest("[data-add-row]")) {
      const last = rows().at(-1);
      const copy = last.cloneNode(true);
      copy.querySelector("[data-filter-field]").value = "";
      copy.querySelector("[data-filter-op]").value = "eq";
      copy.querySelector("[data-filter-value]").value = "";
      last.after(copy);
      syncRow(copy);
      copy.querySelector("[data-filter-field]").focus();
    }
  });
  container.classList.add("js");
}

// --- selection and confirmations -------------------------------------------------------

function setUpSelection(form) {
  const all = form.querySelector("[data-select-all]");
  const boxes = () => [...form.querySelectorAll('input[name="ids"]')];
  const counter = form.querySelector("[data-selected-count]");
  const update = () => {
    const chosen = boxes().filter((box) => box.checked).length;
    if (counter) counter.textContent = chosen ? `${chosen} ✓` : "";
    if (all) all.checked = chosen > 0 && chosen === boxes().length;
  };
  if (all) {
    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
      update();
    });
  }
  form.addEventListener("change", (event) => {
    if (event.target.name === "ids") update();
  });
}

function setUpConfirmations() {
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
}

// --- inline edit -------------------------------------------------------------------------

function columnHeader(cell) {
  const table = cell.closest("table");
  return table.querySelector(`th[data-column="${CSS.escape(cell.dataset.column)}"]`);
}

function editorFor(cell) {
  const kind = cell.dataset.editor;
  const value = cell.dataset.value || "";
  let input;
  if (kind === "select") {
    input = document.createElement("select");
    const header = columnHeader(cell);
    const choices = header && header.dataset.choices ? JSON.parse(header.dataset.choices) : [];
    input.append(new Option("", ""));
    for (const [choice, text] of choices) input.append(new Option(text, choice));
    input.value = value;
  } else if (kind === "checkbox") {
    input = document.createElement("input");
    input.type = "checkbox";
    input.checked = value === "true";
  } else {
    input = document.createElement("input");
    input.type = kind;
    if (kind === "number") input.step = "any";
    input.value = value;
  }
  input.className = "inline-input";
  input.setAttribute("aria-label", columnHeader(cell)?.textContent.trim() || cell.dataset.column);
  return input;
}

function startEdit(cell) {
  if (cell.classList.contains("editing")) return;
  const row = cell.closest("tr");
  const saved = cell.innerHTML;
  const input = editorFor(cell);
  const message = document.createElement("span");
  message.className = "field-error";
  message.setAttribute("role", "alert");
  cell.classList.add("editing");
  cell.replaceChildren(input, message);
  input.focus();
  let busy = false;

  const finish = (html) => {
    cell.classList.remove("editing");
    cell.innerHTML = html;
    cell.focus();
  };
  const save = async () => {
    if (busy) return;
    const value = input.type === "checkbox" ? String(input.checked) : input.value;
    if (value === (cell.dataset.value || "") ) { finish(saved); return; }
    busy = true;
    const response = await postForm(
      `/app/r/${row.closest("table").dataset.entity}/${row.dataset.recordId}/inline`,
      { field: cell.dataset.column, value, version: row.dataset.version });
    busy = false;
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      row.dataset.version = answer.version;
      cell.dataset.value = answer.value;
      const link = cell.querySelector("a[data-record-link]") ||
        (new DOMParser().parseFromString(saved, "text/html").querySelector("a[data-record-link]"));
      if (link) {
        link.textContent = answer.text || row.dataset.recordId;
        finish(link.outerHTML);
      } else finish(answer.html);
      return;
    }
    const errors = answer.errors || [];
    message.textContent = errors.map((e) => e.message).join(" ") || answer.message || response.statusText;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); save(); }
    if (event.key === "Escape") { event.preventDefault(); finish(saved); }
  });
  if (input.type === "checkbox" || input.tagName === "SELECT") {
    input.addEventListener("change", save);
  }
}

function setUpInlineEdit(table) {
  table.addEventListener("dblclick", (event) => {
    const cell = event.target.closest("td[data-editor]");
    if (cell) { event.preventDefault(); startEdit(cell); }
  });
  table.addEventListener("keydown", (event) => {
    const cell = event.target;
    if (event.key === "Enter" && cell.matches && cell.matches("td[data-editor]")) {
      event.preventDefault();
      startEdit(cell);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("[data-filter-builder]")) setUpBuilder(form);
  for (const form of document.querySelectorAll("[data-bulk-form]")) setUpSelection(form);
  for (const table of document.querySelectorAll("table.records")) setUpInlineEdit(table);
  setUpConfirmations();
  // An active filter is shown open where there is room for it; on a phone the records
  // come first and the summary's count says a filter applies.
  const panel = document.querySelector("[data-filter-panel][data-has-filter]");
  if (panel && window.matchMedia("(min-width: 721px)").matches) panel.open = true;
  document.documentElement.classList.add("js");
});
