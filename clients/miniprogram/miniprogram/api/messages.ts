// The conversation on a ticket between the resident and whoever handles it.
// Needs the server's GET/POST /v1/tickets/{id}/messages, which intake does not have yet.

import { call } from "./http";
import { asResident } from "./session";
import { ticketPath } from "./tickets";
import type { NewTicketMessage, TicketMessage, TicketMessageList } from "./types";

/** GET /v1/tickets/{id}/messages: oldest first. */
export function listTicketMessages(ticketId: string): Promise<TicketMessageList> {
  return asResident((token) =>
    call<TicketMessageList>({ method: "GET", path: ticketPath(ticketId, "messages"), token }),
  );
}

/** POST /v1/tickets/{id}/messages: the resident writes to the party handling the ticket. */
export function postTicketMessage(ticketId: string, message: NewTicketMessage): Promise<TicketMessage> {
  return asResident((token) =>
    call<TicketMessage>({ method: "POST", path: ticketPath(ticketId, "messages"), body: message, token }),
  );
}
