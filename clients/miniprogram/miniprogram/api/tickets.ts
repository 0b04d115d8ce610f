// The resident's tickets: submit, list their own, read one, rate and reopen.

import { call } from "./http";
import { asResident } from "./session";
import type { Ticket, TicketDraft, TicketPage } from "./types";

/** POST /v1/tickets. The same `idempotencyKey` (one per draft) returns the same ticket when a retry repeats it. */
export function submitTicket(draft: TicketDraft, idempotencyKey: string): Promise<Ticket> {
  return asResident((token) =>
    call<Ticket>({
      method: "POST",
      path: "/v1/tickets",
      body: draft,
      token,
      headers: { "Idempotency-Key": idempotencyKey },
    }),
  );
}

/** GET /v1/tickets: the resident's own tickets, newest first; pass `next_page_token` for the next page. */
export function listMyTickets(pageToken = "", pageSize = 20): Promise<TicketPage> {
  return asResident((token) =>
    call<TicketPage>({
      method: "GET",
      path: "/v1/tickets",
      query: { page_size: pageSize, page_token: pageToken },
      token,
    }),
  );
}

function ticketPath(ticketId: string, action = ""): string {
  return `/v1/tickets/${encodeURIComponent(ticketId)}${action ? `/${action}` : ""}`;
}

/** GET /v1/tickets/{id}: one of the resident's tickets with its history. */
export function getTicket(ticketId: string): Promise<Ticket> {
  return asResident((token) => call<Ticket>({ method: "GET", path: ticketPath(ticketId), token }));
}

/** POST /v1/tickets/{id}/rate: 1 (not solved: reopens and escalates) to 5. */
export function rateTicket(ticketId: string, score: number, comment = ""): Promise<Ticket> {
  return asResident((token) =>
    call<Ticket>({ method: "POST", path: ticketPath(ticketId, "rate"), body: { score, comment }, token }),
  );
}

/** POST /v1/tickets/{id}/reopen: the problem is back. */
export function reopenTicket(ticketId: string, reason: string): Promise<Ticket> {
  return asResident((token) =>
    call<Ticket>({ method: "POST", path: ticketPath(ticketId, "reopen"), body: { reason }, token }),
  );
}

export { ticketPath };
