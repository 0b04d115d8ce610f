// Instant answers while the resident types: a resolved precedent, cited, before anything is submitted.

import { call } from "./http";
import { asResident } from "./session";
import type { AnswerResult } from "./types";

/** POST /v1/answers: stores nothing; `answered` false says why there is none (then the resident submits). */
export function askInstantAnswer(text: string, community: string): Promise<AnswerResult> {
  return asResident((token) =>
    call<AnswerResult>({ method: "POST", path: "/v1/answers", body: { text, community }, token }),
  );
}
