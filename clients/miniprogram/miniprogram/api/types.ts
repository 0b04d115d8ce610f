// The JSON shapes of intake's HTTP API as the mini-program reads them (services/intake/*/http.py and api_shapes.py).

export type TicketStatus =
  | "received"
  | "routed"
  | "needs_manual"
  | "accepted"
  | "in_progress"
  | "resolved"
  | "closed"
  | "reopened"
  | "transferred"
  | "merged"
  | "waiting_resident";

export type Urgency = "normal" | "urgent" | "emergency";
export type EscalationLevel = "building" | "community" | "street";

/** POST /v1/auth/wechat (and, once the server has it, the SMS login): the resident's bearer token. */
export interface Session {
  token: string;
  /** ISO 8601 with time zone. */
  expires_at: string;
  resident_id: string;
}

/** Where the problem is, in WGS-84 degrees. */
export interface GeoPoint {
  latitude: number;
  longitude: number;
}

/** What the resident sends: POST /v1/tickets. */
export interface TicketDraft {
  text: string;
  community: string;
  building?: string;
  /** Links to photos kept elsewhere. */
  attachment_urls?: string[];
  /** Photos uploaded beforehand (POST /v1/uploads): their upload ids. */
  attachment_ids?: string[];
  location?: GeoPoint;
}

export interface TicketEvent {
  kind: string;
  actor: string;
  party: string;
  note: string;
  from_party: string;
  to_party: string;
  at: string;
}

/** The parts of the routing decision a resident is shown. */
export interface Routing {
  party: string;
  confidence: number;
  abstained: boolean;
  rationale: string;
  suggested_resolution: string;
  /** Always empty for residents: precedents are other residents' complaints. */
  similar_cases: never[];
  /** How many similar resolved cases the decision drew on. */
  similar_resolved_count: number;
  sla_hours: number;
}

/** A photo of the ticket: `before` the resident's of the problem, `after` a worker's of the work done. */
export interface TicketAttachment {
  id: string;
  kind: "before" | "after";
  content_type: string;
  width: number;
  height: number;
  url: string;
  thumbnail_url: string;
}

export interface Ticket {
  id: string;
  text: string;
  community: string;
  building: string;
  resident_id: string;
  status: TicketStatus;
  party: string;
  confidence: number;
  routing: Routing | null;
  attachment_urls: string[];
  /** Uploaded photos, oldest first, through signed links that expire (read the ticket again for fresh ones). */
  attachments: TicketAttachment[];
  location: GeoPoint | null;
  rating: number;
  resolution: string;
  created_at: string;
  updated_at: string;
  priority: number;
  urgency: Urgency;
  urgency_notice: string;
  escalation_level: EscalationLevel;
  sla_due_at: string | null;
  reporter_count: number;
  duplicate_notice: string;
  primary_ticket_id: string;
  primary_status: TicketStatus | null;
  duplicate_ticket_ids: string[];
  split_from_ticket_id: string;
  split_ticket_ids: string[];
  assignee_worker_id: string;
  resolved_at: string | null;
  catalog_entry: string;
  /** Since when the ticket waits for the resident's answer (its deadline paused); null unless waiting_resident. */
  waiting_since: string | null;
  sla_paused_seconds: number;
  /** The resident's messages no worker has read yet. */
  unread_resident_messages: number;
  /** Empty in listings; the full history when one ticket is read. */
  events: TicketEvent[];
}

export interface TicketPage {
  tickets: Ticket[];
  next_page_token: string;
}

export interface CatalogEntry {
  entry_id: string;
  name: string;
  party: string;
  basis: string;
  sla_hours: number;
}

export interface InstantAnswer {
  text: string;
  party: string;
  party_name: string;
  /** How many similar resolved cases gave this answer. */
  similar_resolved_count: number;
  /** Always null for residents: the precedent is another resident's complaint. */
  precedent: null;
  catalog_entry: CatalogEntry | null;
}

/** POST /v1/answers: an answer from a resolved precedent, or why there is none. */
export interface AnswerResult {
  answered: boolean;
  reason: string;
  answer: InstantAnswer | null;
}

/** A decision of the residents' meeting (议事结果), GET /v1/meetings/public. */
export interface PublicDecision {
  title: string;
  outcome: string;
  meeting_at: string | null;
  decided_at: string | null;
  week: string;
  residents: number;
  reports: number;
}

export interface PublicDecisionList {
  decisions: PublicDecision[];
}

/** GET /v1/communities: the communities residents may report from. */
export interface CommunityChoices {
  communities: string[];
}

/** DELETE /v1/me: what was erased. */
export interface Erasure {
  tickets: number;
  events: number;
}

/** POST /v1/uploads: a stored photo (EXIF removed) and signed links to it, valid until `expires_at`. A ticket takes
 * it by its id (TicketDraft.attachment_ids). */
export interface Upload {
  upload_id: string;
  url: string;
  thumbnail_url: string;
  expires_at: string;
  kind: "before" | "after";
  ticket_id: string;
  content_type: string;
  width: number;
  height: number;
  size_bytes: number;
}

export type MessageAuthor = "resident" | "worker";

/** One message of a ticket's conversation, GET/POST /v1/tickets/{id}/messages (services/intake/messages/http.py). */
export interface TicketMessage {
  id: string;
  ticket_id: string;
  author: MessageAuthor;
  /** The party a worker wrote for; empty for the resident. */
  party: string;
  text: string;
  /** Workers' notes to each other: never sent to residents, so always false here. */
  internal: boolean;
  /** A worker's question: the ticket waits for the resident's answer. */
  asks_resident: boolean;
  attachment_urls: string[];
  created_at: string;
}

export interface TicketMessageList {
  messages: TicketMessage[];
}

/** POST /v1/tickets/{id}/messages: the stored message and the ticket after it (an answer ends the wait). */
export interface PostedTicketMessage extends TicketMessage {
  ticket: Ticket;
}

export interface NewTicketMessage {
  text: string;
  attachment_urls?: string[];
}

/** POST /v1/auth/sms/code: a code was texted; ask again after the wait. */
export interface SmsCodeSent {
  retry_after_seconds: number;
}
