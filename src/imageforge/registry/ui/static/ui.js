// imageforge registry UI: the only script (the CSP allows no other). It filters tables
// and lists, copies pull commands and asks before a destructive form is sent; every
// page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[data-filter]")) {
    const target = document.getElementById(input.dataset.filter);
    if (!target) continue;
    input.addEventListener("input", () => {
      const needle = input.value.toLowerCase();
      const rows = target.tagName === "TABLE" ? target.tBodies[0].rows : target.children;
      for (const row of rows) {
        row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
      }
    });
  }
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select and copy";
      }
    });
  }
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
