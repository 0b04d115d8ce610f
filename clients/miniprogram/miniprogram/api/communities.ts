// 小区列表: the communities intake takes reports from, read from intake so that a published build offers a community
// added after its release (a new build waits for WeChat's review).

import { call } from "./http";
import type { CommunityChoices } from "./types";

/** GET /v1/communities: public, in the order the H5 form offers them. */
export function listCommunities(): Promise<CommunityChoices> {
  return call<CommunityChoices>({ method: "GET", path: "/v1/communities" });
}
