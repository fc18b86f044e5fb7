// Global search in the top bar: Ctrl+K / ⌘K focuses the box; typing shows the best matches
// of every entity the user may read (GET /app/search?format=json, debounced). Without
// scripts the box is a plain GET form to the results page.
"use strict";

const DEBOUNCE_MS = 250;
const MIN_LENGTH = 2;

function setup(form) {
  const input = form.querySelector("[data-global-search-input]");
  const panel = form.querySelector("[data-global-search-results]");
  if (!input || !panel) return;
  let timer = 0;
  let pending = null;

  function close() {
    panel.hidden = true;
    input.setAttribute("aria-expanded", "false");
  }

  function heading(text) {
    const h = document.createElement("h3");
    h.textContent = text;
    return h;
  }

  function link(text, href) {
    const a = document.createElement("a");
    a.textContent = text;
    a.href = href;
    return a;
  }

  function show(answer) {
    panel.replaceChildren();
    if (answer.error) {
      const p = document.createElement("p");
      p.textContent = answer.error;
      panel.append(p);
    } else if (!answer.groups.length) {
      const p = document.createElement("p");
      p.textContent = form.dataset.empty || "";
      panel.append(p);
    }
    for (const group of answer.groups) {
      const section = document.createElement("section");
      section.append(heading(group.label));
      for (const hit of group.hits) section.append(link(hit.title, hit.href));
      if (group.more) section.append(link(group.more.text, group.more.href));
      panel.append(section);
    }
    if (answer.groups.length) panel.append(link(answer.all.text, answer.all.href));
    panel.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  async function run(text) {
    if (pending) pending.abort();
    pending = new AbortController();
    const url = form.action + "?" + new URLSearchParams({ q: text, format: "json" });
    try {
      const response = await fetch(url, {
        credentials: "same-origin", signal: pending.signal,
        headers: { "Accept": "application/json" },
      });
      if (response.ok && input.value.trim() === text) show(await response.json());
    } catch (error) {
      if (error.name !== "AbortError") close();
    }
  }

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    const text = input.value.trim();
    if (text.length < MIN_LENGTH) {
      if (pending) pending.abort();
      close();
      return;
    }
    timer = window.setTimeout(() => run(text), DEBOUNCE_MS);
  });

  form.addEventListener("keydown", (event) => {
    const links = [...panel.querySelectorAll("a")];
    const index = links.indexOf(document.activeElement);
    if (event.key === "Escape") {
      close();
      input.focus();
    } else if (event.key === "ArrowDown" && !panel.hidden && links.length) {
      event.preventDefault();
      links[Math.min(index + 1, links.length - 1)].focus();
    } else if (event.key === "ArrowUp" && !panel.hidden && links.length) {
      event.preventDefault();
      if (index <= 0) input.focus();
      else links[index - 1].focus();
    }
  });

  form.addEventListener("focusout", (event) => {
    if (!form.contains(event.relatedTarget)) close();
  });

  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k") {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("[data-global-search]")) setup(form);
});
