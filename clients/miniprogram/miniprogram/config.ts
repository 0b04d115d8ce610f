// Everything that differs between a developer's phone and the published mini-program, in one place.

export interface SubscribeTemplates {
  /** 订阅消息 template sent when a party accepts the ticket (受理通知); empty: not asked. */
  accepted: string;
  /** Template sent when the ticket is resolved (办结通知); empty: not asked. */
  resolved: string;
}

export interface AppConfig {
  /** Scheme, host and port of intake's HTTP API, no trailing slash; the published build needs an HTTPS domain
   *  listed under 开发管理 → 服务器域名 (request 合法域名 and uploadFile 合法域名). */
  apiBaseUrl: string;
  /** When set, sign in as this openid with intake's development verifier (`dev:<openid>`, what `make run` uses)
   *  instead of wx.login's code, which only intake's WeChat verifier (with the appid's secret) accepts. */
  devLoginOpenid: string;
  subscribeTemplates: SubscribeTemplates;
  /** Communities the pickers offer until intake's GET /v1/communities answers (its list is then kept for the next
   *  launch): a community an admin adds later reaches a published build without a new release. */
  communities: string[];
  /** How long typing must pause before the instant answer is asked for. */
  answerDebounceMs: number;
  /** How often a ticket still being triaged is read again. */
  triagePollMs: number;
  /** Photos one report may carry (intake's MAX_ATTACHMENTS). */
  maxPhotos: number;
}

// `make run` serves intake on 127.0.0.1:8080; WeChat DevTools reaches it with 不校验合法域名 ticked.
export const config: AppConfig = {
  apiBaseUrl: "http://127.0.0.1:8080",
  devLoginOpenid: "",
  subscribeTemplates: { accepted: "", resolved: "" },
  communities: [
    "金桥新村",
    "梅林小区",
    "漓江路社区",
    "翠湖苑",
    "西渚社区",
    "北新泾街道新泾苑",
    "恒康居民区",
    "东一村社区",
    "阳光花园",
    "和平新村",
    "光明里",
    "滨江名邸",
  ],
  answerDebounceMs: 600,
  triagePollMs: 2000,
  maxPhotos: 9,
};

/** The template ids to ask the resident's consent for, each once, leaving out those not configured. */
export function subscribeTemplateIds(): string[] {
  const { accepted, resolved } = config.subscribeTemplates;
  return [accepted, resolved].filter((id, index, all) => id.length > 0 && all.indexOf(id) === index);
}
