// The dashboard's only script: filters apply on change, the status form shows the fields the status
// needs, and merging asks for confirmation. Pages work without it.
document.addEventListener("DOMContentLoaded", () => {
  const filters = document.getElementById("filters");
  if (filters) {
    filters.querySelectorAll("select").forEach((s) => s.addEventListener("change", () => filters.requestSubmit()));
  }
  const select = document.getElementById("status-select");
  if (select) {
    const sync = () => {
      document.querySelectorAll(".when-reported").forEach((e) => (e.hidden = select.value !== "reported"));
      document.querySelectorAll(".when-duplicate").forEach((e) => (e.hidden = select.value !== "duplicate"));
    };
    select.addEventListener("change", sync);
    sync();
  }
  document.querySelectorAll("form[data-confirm]").forEach((form) =>
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    }),
  );
});
