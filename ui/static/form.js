// Record forms and record pages: reference lookups, client-side checks shown beside the
// field, delete confirmation, transition fields on demand. Every page works without it:
// a reference input then takes a record id, the browser checks the HTML constraints itself.
"use strict";

const LOOKUP_DELAY_MS = 200;

/** Show the browser's message for an invalid input in the field's error slot. */
function showError(input) {
  const name = (input.name || "").split(".")[0];
  const slot = input.form && input.form.querySelector(`[data-field-error="${CSS.escape(name)}"]`);
  if (!slot) return;
  if (input.validity.valid) {
    if (slot.dataset.client === "1") { slot.textContent = ""; slot.hidden = true; }
    input.removeAttribute("aria-invalid");
  } else {
    slot.textContent = input.validationMessage;
    slot.dataset.client = "1";
    slot.hidden = false;
    input.setAttribute("aria-invalid", "true");
  }
}

function enhanceChecks(form) {
  form.addEventListener("invalid", (event) => showError(event.target), true);
  form.addEventListener("input", (event) => {
    if (event.target.getAttribute("aria-invalid") === "true") showError(event.target);
  });
  form.addEventListener("submit", (event) => {
    if (!form.checkValidity()) {
      event.preventDefault();
      const first = form.querySelector(":invalid");
      if (first) first.focus();
    }
  });
}

/** A reference input (record id) becomes a search box with suggestions from /app/lookup;
 *  the id goes into a hidden input under the field's name. */
function enhanceLookup(idInput) {
  const search = document.createElement("input");
  const list = document.createElement("datalist");
  const found = new Map();
  list.id = `${idInput.id}-options`;
  search.type = "search";
  search.id = idInput.id;
  search.autocomplete = "off";
  search.setAttribute("list", list.id);
  search.value = idInput.dataset.lookupTitle || idInput.value;
  search.required = idInput.required;
  for (const name of ["aria-describedby", "aria-invalid", "aria-required"]) {
    if (idInput.hasAttribute(name)) search.setAttribute(name, idInput.getAttribute(name));
  }
  search.placeholder = idInput.dataset.lookupPlaceholder || "";
  idInput.id = `${idInput.id}-id`;
  idInput.type = "hidden";
  idInput.required = false;
  idInput.after(search, list);
  if (idInput.value) found.set(search.value, idInput.value);

  let timer = 0;
  let asked = "";
  const fetchOptions = async () => {
    const query = search.value.trim();
    if (query === asked) return;
    asked = query;
    const response = await fetch(`${idInput.dataset.lookup}?q=${encodeURIComponent(query)}`,
      { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const body = await response.json();
    list.replaceChildren();
    for (const item of body.results || []) {
      found.set(item.title, item.id);
      const option = document.createElement("option");
      option.value = item.title;
      list.append(option);
    }
  };
  const choose = () => {
    const text = search.value.trim();
    idInput.value = text ? (found.get(text) || "") : "";
    const invalid = text && !idInput.value;
    search.setCustomValidity(invalid ? (idInput.dataset.lookupInvalid || "?") : "");
  };
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(fetchOptions, LOOKUP_DELAY_MS);
    choose();
  });
  search.addEventListener("change", choose);
  search.addEventListener("focus", () => { fetchOptions(); }, { once: true });
  // A regarding link: its entity select decides which entity the lookup searches.
  const entity = document.querySelector(`select[data-regarding-entity="${search.id}"]`);
  if (entity) {
    entity.addEventListener("change", () => {
      idInput.dataset.lookup = `/app/lookup/${entity.value}`;
      idInput.value = "";
      search.value = "";
      asked = "\u0000";
      found.clear();
      list.replaceChildren();
      search.setCustomValidity("");
    });
  }
}

/** A transition that needs fields: the first press shows them, the second one submits. */
function enhanceTransition(form, refused) {
  const fields = form.querySelector("[data-transition-fields]");
  const button = form.querySelector("button[data-transition]");
  if (!fields || !button || refused === button.dataset.transition) return;
  fields.hidden = true;
  button.setAttribute("aria-expanded", "false");
  button.addEventListener("click", (event) => {
    if (!fields.hidden) return;
    event.preventDefault();
    fields.hidden = false;
    button.setAttribute("aria-expanded", "true");
    const first = fields.querySelector("input, select, textarea");
    if (first) first.focus();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.record-form, form.transition-form")) {
    enhanceChecks(form);
  }
  for (const input of document.querySelectorAll("input[data-lookup]")) enhanceLookup(input);
  const refusal = document.querySelector("[data-transition-error]");
  const refused = refusal ? refusal.dataset.transitionError : "";
  for (const form of document.querySelectorAll("form.transition-form.needs-fields")) {
    enhanceTransition(form, refused);
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
  if (refusal) refusal.focus();
});
