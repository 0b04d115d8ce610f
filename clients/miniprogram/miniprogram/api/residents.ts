// The resident's own data: erasure on request (PIPL art. 47).

import { call } from "./http";
import { asResident, forgetSession } from "./session";
import type { Erasure } from "./types";

/** DELETE /v1/me: the resident's tickets no longer name them and their tokens are refused; 404 when none did. */
export async function eraseMyData(): Promise<Erasure> {
  const erased = await asResident((token) => call<Erasure>({ method: "DELETE", path: "/v1/me", token }));
  forgetSession();
  return erased;
}
