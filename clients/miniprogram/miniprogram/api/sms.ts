// Sign-in by text message, for residents who do not use WeChat's login (a relative's phone, an H5 shell).
// Intake's POST /v1/auth/sms/code and POST /v1/auth/sms/login; the resident id is `phone:<digest>`, never the number.

import { call } from "./http";
import { keepSession } from "./session";
import type { Session, SmsCodeSent } from "./types";

/** POST /v1/auth/sms/code: texts a one-time code to a mainland mobile number. */
export function requestSmsCode(phone: string): Promise<SmsCodeSent> {
  return call<SmsCodeSent>({ method: "POST", path: "/v1/auth/sms/code", body: { phone } });
}

/** POST /v1/auth/sms/login: the texted code for a resident token; the session is kept like a WeChat one. */
export async function loginWithSms(phone: string, code: string): Promise<Session> {
  const session = await call<Session>({ method: "POST", path: "/v1/auth/sms/login", body: { phone, code } });
  keepSession(session);
  return session;
}
