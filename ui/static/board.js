// Kanban board: drag a card to another column, or use the card's Move form, to perform the
// pipeline transition. The server decides (access, roles, guards); a refusal is shown in the
// message area and the card stays where it was. Without scripts the forms post normally.
"use strict";

import { postForm } from "/app/static/metacrm.js";

const board = document.querySelector("[data-board]");
const message = document.querySelector("[data-board-message]");

function say(text, ok) {
  if (!message) return;
  message.textContent = text;
  message.classList.remove("board-message-empty", "board-message-ok", "board-message-error");
  message.classList.add(ok ? "board-message-ok" : "board-message-error");
}

function columnOf(state) {
  return board.querySelector(`[data-board-column="${CSS.escape(state)}"]`);
}

function targetsOf(card) {
  return (card.dataset.targets || "").split(" ").filter(Boolean);
}

/** Refresh a card after a move: its state, version and the stages it may go to next. */
function updateCard(card, answer) {
  card.dataset.state = answer.state;
  card.dataset.version = String(answer.version);
  const names = answer.targets.map((target) => target.state);
  card.dataset.targets = names.join(" ");
  const version = card.querySelector("[data-move-version]");
  if (version) version.value = String(answer.version);
  const select = card.querySelector("[data-move-select]");
  const form = card.querySelector("[data-move-form]");
  if (select) {
    select.replaceChildren(...answer.targets.map((target) => new Option(target.label, target.state)));
  }
  if (names.length) {
    card.setAttribute("draggable", "true");
  } else {
    card.removeAttribute("draggable");
  }
  if (form) form.classList.toggle("hidden", !names.length);
}

function updateTotals(columns) {
  for (const [state, totals] of Object.entries(columns || {})) {
    const column = columnOf(state);
    if (!column) continue;
    const count = column.querySelector("[data-column-count]");
    if (count) {
      count.textContent = totals.count_text;
      count.dataset.count = String(totals.count);
    }
    const sum = column.querySelector("[data-column-sum]");
    if (sum) sum.textContent = totals.sum_text;
  }
}

/** Ask the server to move `card` to `state`; on success put it at the top of that column. */
async function move(card, state) {
  if (!state || state === card.dataset.state) return;
  card.classList.add("board-card-busy");
  card.setAttribute("aria-busy", "true");
  say(board.dataset.textMoving || "…", true);
  let answer = null;
  let response = null;
  try {
    response = await postForm(board.dataset.moveUrl, {
      id: card.dataset.cardId, version: card.dataset.version, to: state,
      pipeline: board.dataset.pipeline,
    });
    answer = await response.json();
  } catch (error) {
    answer = null;
  } finally {
    card.classList.remove("board-card-busy");
    card.removeAttribute("aria-busy");
  }
  if (!answer) {
    say(board.dataset.textFailed, false);
    return;
  }
  if (answer.convert_url) {
    // a conversion performs this move: its page shows what it will make
    window.location.assign(answer.convert_url);
    return;
  }
  if (!response.ok || !answer.ok) {
    say(answer.message, false);  // the card stays in its column
    return;
  }
  const target = columnOf(answer.card.state);
  const list = target && target.querySelector("[data-column-cards]");
  if (list) list.prepend(card);
  updateCard(card, answer.card);
  updateTotals(answer.columns);
  say(answer.message, true);
  const title = card.querySelector(".board-card-title");
  if (title) title.focus();
}

if (board) {
  let dragged = null;

  board.addEventListener("dragstart", (event) => {
    const card = event.target.closest && event.target.closest("[data-card-id][draggable]");
    if (!card) return;
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.cardId);
    card.classList.add("board-card-dragging");
    for (const state of targetsOf(card)) {
      const column = columnOf(state);
      if (column) column.classList.add("board-column-target");
    }
  });

  board.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("board-card-dragging");
    dragged = null;
    for (const column of board.querySelectorAll(".board-column-target, .board-column-over")) {
      column.classList.remove("board-column-target", "board-column-over");
    }
  });

  board.addEventListener("dragover", (event) => {
    const column = event.target.closest && event.target.closest("[data-board-column]");
    if (!dragged || !column) return;
    event.preventDefault();  // every column accepts the drop: the server explains a refusal
    event.dataTransfer.dropEffect = "move";
    column.classList.add("board-column-over");
  });

  board.addEventListener("dragleave", (event) => {
    const column = event.target.closest && event.target.closest("[data-board-column]");
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("board-column-over");
  });

  board.addEventListener("drop", (event) => {
    const column = event.target.closest && event.target.closest("[data-board-column]");
    if (!dragged || !column) return;
    event.preventDefault();
    const card = dragged;
    column.classList.remove("board-column-over");
    move(card, column.dataset.boardColumn);
  });

  // The keyboard path: the card's form, sent with the same request as a drop.
  board.addEventListener("submit", (event) => {
    const form = event.target.closest("[data-move-form]");
    if (!form) return;
    event.preventDefault();
    const card = form.closest("[data-card-id]");
    const select = form.querySelector("[data-move-select]");
    move(card, select.value);
  });
}
