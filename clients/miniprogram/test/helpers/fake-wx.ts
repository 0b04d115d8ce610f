// A fake `wx` for the unit tests only: storage in memory, wx.request answered by routes the test sets, every
// other call recorded. Nothing here ships in dist/.

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  header: Record<string, string>;
  body: unknown;
}

export interface FakeResponse {
  statusCode: number;
  data?: unknown;
  header?: Record<string, string>;
}

type Respond = (request: RecordedRequest) => FakeResponse;

interface Route {
  method: string;
  path: string | RegExp;
  respond: Respond;
}

interface Callbacks {
  success?: (result: unknown) => void;
  fail?: (problem: { errMsg: string }) => void;
}

export const SESSION = { token: "token-1", expires_at: "2099-01-01T00:00:00+00:00", resident_id: "openid-1" };

export class FakeWx {
  readonly storage = new Map<string, unknown>();
  readonly requests: RecordedRequest[] = [];
  readonly calls: Record<string, unknown[]> = {};
  readonly uploads: Array<{ url: string; filePath: string; name: string; header: Record<string, string> }> = [];
  private routes: Route[] = [];
  /** What wx.uploadFile answers, per call; default: the server has no /v1/uploads (404). */
  uploadAnswer: FakeResponse = { statusCode: 404, data: JSON.stringify({ detail: "Not Found" }) };
  /** What the pickers answer. */
  chosenPhotos: string[] = [];
  chosenPlace: { name: string; address: string; latitude: number; longitude: number } | null = null;
  modalConfirms = true;
  loginCode = "code-1";

  constructor() {
    this.on("POST", "/v1/auth/wechat", () => ({ statusCode: 200, data: SESSION }));
  }

  /** Answers `method path` (newest route first). */
  on(method: string, path: string | RegExp, respond: Respond): this {
    this.routes.unshift({ method, path, respond });
    return this;
  }

  requestsTo(method: string, path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && r.path === path);
  }

  private record(name: string, argument: unknown): void {
    (this.calls[name] ??= []).push(argument);
  }

  private answer(request: RecordedRequest): FakeResponse {
    const route = this.routes.find(
      (r) =>
        r.method === request.method &&
        (typeof r.path === "string" ? r.path === request.path : r.path.test(request.path)),
    );
    return route ? route.respond(request) : { statusCode: 404, data: { detail: "Not Found" } };
  }

  api(): Record<string, unknown> {
    const later = (run: () => void): void => void Promise.resolve().then(run);
    return {
      getStorageSync: (key: string) => this.storage.get(key) ?? "",
      setStorageSync: (key: string, value: unknown) => void this.storage.set(key, JSON.parse(JSON.stringify(value))),
      removeStorageSync: (key: string) => void this.storage.delete(key),
      getSystemInfoSync: () => ({ SDKVersion: "3.7.0", platform: "devtools", windowWidth: 375, pixelRatio: 2 }),
      getWindowInfo: () => ({ windowWidth: 375, windowHeight: 667, pixelRatio: 2 }),
      getDeviceInfo: () => ({ platform: "devtools" }),
      getAppBaseInfo: () => ({ SDKVersion: "3.7.0" }),
      canIUse: () => true,
      login: (options: Callbacks) => later(() => options.success?.({ code: this.loginCode, errMsg: "login:ok" })),
      request: (
        options: Callbacks & { url: string; method: string; header: Record<string, string>; data?: string },
      ) => {
        const url = new URL(options.url);
        const request: RecordedRequest = {
          method: options.method,
          path: url.pathname,
          query: url.searchParams,
          header: options.header,
          body: options.data === undefined ? undefined : JSON.parse(options.data),
        };
        this.requests.push(request);
        const response = this.answer(request);
        const data = typeof response.data === "string" ? response.data : JSON.stringify(response.data ?? "");
        later(() => options.success?.({ statusCode: response.statusCode, data, header: response.header ?? {} }));
      },
      uploadFile: (
        options: Callbacks & { url: string; filePath: string; name: string; header: Record<string, string> },
      ) => {
        this.uploads.push({ url: options.url, filePath: options.filePath, name: options.name, header: options.header });
        const { statusCode, data } = this.uploadAnswer;
        later(() => options.success?.({ statusCode, data: typeof data === "string" ? data : JSON.stringify(data) }));
      },
      chooseMedia: (options: Callbacks & { count: number }) => {
        this.record("chooseMedia", options.count);
        const files = this.chosenPhotos.map((tempFilePath) => ({ tempFilePath, fileType: "image", size: 1 }));
        later(() =>
          files.length
            ? options.success?.({ tempFiles: files })
            : options.fail?.({ errMsg: "chooseMedia:fail cancel" }),
        );
      },
      chooseLocation: (options: Callbacks) => {
        const place = this.chosenPlace;
        later(() => (place ? options.success?.(place) : options.fail?.({ errMsg: "chooseLocation:fail cancel" })));
      },
      requestSubscribeMessage: (options: Callbacks & { tmplIds: string[] }) => {
        this.record("requestSubscribeMessage", options.tmplIds);
        later(() => options.success?.({ errMsg: "requestSubscribeMessage:ok" }));
      },
      showModal: (options: Callbacks & { content: string }) => {
        this.record("showModal", options.content);
        later(() => options.success?.({ confirm: this.modalConfirms, cancel: !this.modalConfirms }));
      },
      navigateTo: (options: { url: string }) => this.record("navigateTo", options.url),
      showToast: (options: { title: string }) => this.record("showToast", options.title),
      previewImage: (options: { current: string; urls: string[] }) => this.record("previewImage", options),
      stopPullDownRefresh: () => this.record("stopPullDownRefresh", true),
      nextTick: (run: () => void) => later(run),
    };
  }
}

/** A fresh fake installed as the global `wx`, signed in already unless told otherwise. */
export function installFakeWx({ signedIn = true } = {}): FakeWx {
  const fake = new FakeWx();
  if (signedIn) fake.storage.set("linli.session", SESSION);
  (globalThis as unknown as { wx: unknown }).wx = fake.api();
  return fake;
}
