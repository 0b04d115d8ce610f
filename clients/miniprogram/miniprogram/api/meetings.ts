// 议事结果: what the residents' meeting decided on matters many neighbours raised.

import { call } from "./http";
import { asResident } from "./session";
import type { PublicDecisionList } from "./types";

/** GET /v1/meetings/public: a community's decided items, newest first. */
export function listPublicDecisions(community: string): Promise<PublicDecisionList> {
  return asResident((token) =>
    call<PublicDecisionList>({ method: "GET", path: "/v1/meetings/public", query: { community }, token }),
  );
}
