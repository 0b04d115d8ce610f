// The conversation on a ticket between the resident and whoever handles it (services/intake/messages/http.py).

import { call } from "./http";
import { asResident } from "./session";
import { ticketPath } from "./tickets";
import type { NewTicketMessage, PostedTicketMessage, TicketMessageList } from "./types";

/** GET /v1/tickets/{id}/messages: oldest first. */
export function listTicketMessages(ticketId: string): Promise<TicketMessageList> {
  return asResident((token) =>
    call<TicketMessageList>({ method: "GET", path: ticketPath(ticketId, "messages"), token }),
  );
}

/** POST /v1/tickets/{id}/messages: the resident writes to the party handling the ticket; an answer to a question
 * returns the ticket from waiting_resident to its work. */
export function postTicketMessage(ticketId: string, message: NewTicketMessage): Promise<PostedTicketMessage> {
  return asResident((token) =>
    call<PostedTicketMessage>({ method: "POST", path: ticketPath(ticketId, "messages"), body: message, token }),
  );
}
