// The communities a picker offers: intake's list, kept for the next launch; the build's own list until intake answers.

import { listCommunities } from "../api/communities";
import { config } from "../config";

export const COMMUNITIES_KEY = "linli.communities";

/** What a picker shows: the list, the chosen index (-1: none) and the chosen name ("" for none). */
export interface CommunityChoice {
  communities: string[];
  communityIndex: number;
  community: string;
}

function isNameList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((name) => typeof name === "string" && name !== "");
}

/** The list intake gave last (kept across launches), else the build's. */
export function knownCommunities(): string[] {
  const kept: unknown = wx.getStorageSync(COMMUNITIES_KEY);
  return isNameList(kept) ? kept : config.communities;
}

/** Asks intake for its list and keeps it; offline, or on any error, the list known before. */
export async function refreshCommunities(): Promise<string[]> {
  try {
    const { communities } = await listCommunities();
    if (isNameList(communities)) {
      wx.setStorageSync(COMMUNITIES_KEY, communities);
      return communities;
    }
  } catch {
    // The picker still works with what it had; a submission to a community intake no longer serves says so.
  }
  return knownCommunities();
}

/** `community` chosen in `communities` when it is one of them, else `fallback` (an index, -1 for none). */
export function choose(communities: string[], community: string, fallback = -1): CommunityChoice {
  const found = communities.indexOf(community);
  const index = found >= 0 ? found : fallback;
  return { communities, communityIndex: index, community: communities[index] ?? "" };
}
