// The resident's callback number (联系电话) on the console's ticket page: masked as the ticket shows it to workers;
// "查看联系电话" reads it in full (GET /v1/tickets/{id}/contact), which the audit log records before answering.
// Uses console.js's call, flash, show and PAGE.
"use strict";

function setUpContact(row) {
  const masked = document.getElementById("d-contact-masked");
  const full = document.getElementById("d-contact-full");
  const button = document.getElementById("d-contact-show");

  document.addEventListener("linli:ticket-rendered", (event) => {
    const ticket = event.detail;
    show(row, Boolean(ticket.has_contact_phone));
    if (!full.hidden) return; // already read in full on this page
    masked.textContent = ticket.contact_phone;
  });

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const found = await call("GET", `/v1/tickets/${encodeURIComponent(PAGE.ticket_id)}/contact`);
      full.textContent = found.contact_phone;
      full.href = `tel:${found.contact_phone}`;
      show(full, true);
      show(masked, false);
      show(button, false);
    } catch (problem) {
      flash(describeError(problem), true);
      button.disabled = false;
    }
  });
}

if (document.getElementById("d-contact")) setUpContact(document.getElementById("d-contact"));
