// 小区列表: the pickers offer intake's list (a community added after this build's release), keep it for the next
// launch, and fall back on the list kept before, then on the build's own, when intake cannot answer.

import { installFakeWx, type FakeWx } from "./helpers/fake-wx";
import { distModule, methodsOf, renderPage, settle, type Page } from "./helpers/pages";

interface PickerPage {
  onLoad(): void;
  onCommunityChange(event: { detail: { value: string } }): void;
}

interface PickerData {
  communities: string[];
  communityIndex: number;
  community: string;
}

const { config } = distModule<{ config: { communities: string[] } }>("config.js");
const ADDED = "新泾苑"; // added by an admin after the build was published: not in config.communities
const SERVED = () => [...config.communities, ADDED];

let wx: FakeWx;
let page: Page | undefined;

function load(name: string): PickerData {
  page = renderPage(name);
  methodsOf<PickerPage>(page).onLoad();
  return page.data as unknown as PickerData;
}

function serveCommunities(): void {
  wx.on("GET", "/v1/communities", () => ({ statusCode: 200, data: { communities: SERVED() } }));
}

beforeEach(() => {
  wx = installFakeWx();
});

afterEach(() => page?.detach());

test("the report form offers intake's list and the remembered community intake added since the build", async () => {
  expect(config.communities).not.toContain(ADDED);
  wx.storage.set("linli.place", { community: ADDED, building: "2号楼" });
  serveCommunities();
  load("submit");
  await settle();

  const data = page!.data as unknown as PickerData;
  expect(data.communities).toEqual(SERVED());
  expect(data.community).toBe(ADDED);
  expect(data.communityIndex).toBe(SERVED().indexOf(ADDED));
  const [asked] = wx.requestsTo("GET", "/v1/communities");
  expect(asked.header.Authorization).toBeUndefined(); // public: the list is the H5 form's too
  expect(wx.storage.get("linli.communities")).toEqual(SERVED()); // kept for the next launch

  methodsOf<PickerPage>(page!).onCommunityChange({ detail: { value: "0" } });
  expect((page!.data as unknown as PickerData).community).toBe(SERVED()[0]);
});

test("offline, the form offers the list kept from the last launch, else the build's own", async () => {
  wx.storage.set("linli.communities", ["甲小区", ADDED]); // no route: intake answers 404
  load("submit");
  await settle();
  expect((page!.data as unknown as PickerData).communities).toEqual(["甲小区", ADDED]);
  page!.detach();

  wx = installFakeWx();
  wx.storage.set("linli.communities", "not a list"); // whatever a storage holds, it is checked
  load("submit");
  await settle();
  expect((page!.data as unknown as PickerData).communities).toEqual(config.communities);
  expect((page!.data as unknown as PickerData).community).toBe("");
});

test("the decisions page reads the decisions of the remembered community once intake lists it", async () => {
  wx.storage.set("linli.place", { community: ADDED, building: "" });
  serveCommunities();
  wx.on("GET", "/v1/meetings/public", () => ({ statusCode: 200, data: { decisions: [] } }));
  load("decisions");
  await settle();

  expect((page!.data as unknown as PickerData).community).toBe(ADDED);
  const asked = wx.requestsTo("GET", "/v1/meetings/public").map((request) => request.query.get("community"));
  // First the build's first community (the remembered one was unknown to it), then the remembered one.
  expect(asked).toEqual([config.communities[0], ADDED]);
});
