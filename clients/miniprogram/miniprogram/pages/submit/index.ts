// 我要反映: what happened, where, photos and a point on the map; an instant answer while typing (what was done
// last time and how many similar cases were resolved, never another resident's complaint).

import { askInstantAnswer } from "../../api/answers";
import { describeError } from "../../api/errors";
import { submitTicket } from "../../api/tickets";
import type { AnswerResult, GeoPoint, TicketDraft } from "../../api/types";
import { uploadPhoto } from "../../api/uploads";
import { config } from "../../config";
import { choose, knownCommunities, refreshCommunities } from "../../utils/communities";
import { gcj02ToWgs84 } from "../../utils/geo";
import { draftKey } from "../../utils/ids";
import { rememberPlace, rememberedPlace } from "../../utils/place";
import { debounce, type Debounced } from "../../utils/timing";
import { askForNotices, chooseLocation, choosePhotos } from "../../utils/wx-async";

export const MIN_TEXT_CHARS = 2;

// Vant's van-field says its new value as the event's detail.
type FieldChange = { detail: string };

type PhotoState = "uploading" | "done" | "failed";

interface PhotoView {
  path: string;
  url: string;
  uploadId: string;
  state: PhotoState;
  problem: string;
}

interface AnswerView {
  partyName: string;
  text: string;
  similarCount: number;
  basis: string;
}

// What the page keeps between events without rendering it.
interface Draft {
  key: string;
  point: GeoPoint | null;
  asked: number;
  ask: Debounced<[string, string]> | null;
}

const drafts = new WeakMap<object, Draft>();

function draftOf(page: object): Draft {
  let draft = drafts.get(page);
  if (!draft) {
    draft = { key: draftKey(), point: null, asked: 0, ask: null };
    drafts.set(page, draft);
  }
  return draft;
}

function answerView(result: AnswerResult): AnswerView | null {
  const found = result.answer;
  if (!result.answered || !found) return null;
  const entry = found.catalog_entry;
  return {
    partyName: found.party_name,
    text: found.text,
    similarCount: found.similar_resolved_count,
    basis: entry ? `依据:${entry.name}。${entry.basis}(一般 ${entry.sla_hours} 小时内办理)` : "",
  };
}

function textIsLongEnough(text: string): boolean {
  return text.trim().length >= MIN_TEXT_CHARS;
}

Component({
  data: {
    communities: [] as string[],
    communityIndex: -1,
    community: "",
    building: "",
    text: "",
    photos: [] as PhotoView[],
    maxPhotos: config.maxPhotos,
    placeName: "",
    answer: null as AnswerView | null,
    canSubmit: false,
    submitting: false,
    error: "",
  },

  lifetimes: {
    detached(): void {
      draftOf(this).ask?.cancel();
    },
  },

  methods: {
    onLoad(): void {
      const place = rememberedPlace();
      this.setData({ ...choose(knownCommunities(), place.community), building: place.building });
      this.refreshCanSubmit();
      void refreshCommunities().then((communities) => {
        // The resident may have picked one meanwhile: keep it, else the remembered one if intake serves it now.
        this.setData(choose(communities, this.data.community || place.community));
        this.refreshCanSubmit();
      });
    },

    refreshCanSubmit(): void {
      const { text, community, photos, submitting } = this.data;
      const uploading = photos.some((photo) => photo.state === "uploading");
      this.setData({ canSubmit: textIsLongEnough(text) && community !== "" && !uploading && !submitting });
    },

    onCommunityChange(event: WechatMiniprogram.PickerChange): void {
      const index = Number(event.detail.value);
      this.setData({ communityIndex: index, community: this.data.communities[index] ?? "" });
      this.refreshCanSubmit();
      this.askSoon();
    },

    onBuildingChange(event: FieldChange): void {
      this.setData({ building: event.detail });
    },

    onTextChange(event: FieldChange): void {
      this.setData({ text: event.detail, error: "" });
      this.refreshCanSubmit();
      this.askSoon();
    },

    // Asked once typing pauses; an answer that arrives after the text changed again is dropped.
    askSoon(): void {
      const draft = draftOf(this);
      if (!draft.ask)
        draft.ask = debounce((text: string, community: string) => this.ask(text, community), config.answerDebounceMs);
      const { text, community } = this.data;
      if (!textIsLongEnough(text) || !community) {
        draft.ask.cancel();
        this.setData({ answer: null });
        return;
      }
      draft.ask(text, community);
    },

    async ask(text: string, community: string): Promise<void> {
      const draft = draftOf(this);
      const asked = ++draft.asked;
      try {
        const result = await askInstantAnswer(text, community);
        if (asked === draft.asked && text === this.data.text) this.setData({ answer: answerView(result) });
      } catch {
        // No answer is no reason to keep a resident from submitting: the form stays as it is.
        if (asked === draft.asked) this.setData({ answer: null });
      }
    },

    async onChoosePhotos(): Promise<void> {
      const room = config.maxPhotos - this.data.photos.length;
      if (room <= 0) return;
      let paths: string[] | null;
      try {
        paths = await choosePhotos(room);
      } catch {
        this.setData({ error: "没有拿到照片,请检查相册或相机权限。" });
        return;
      }
      if (!paths) return;
      const added: PhotoView[] = paths.map((path) => ({
        path,
        url: "",
        uploadId: "",
        state: "uploading",
        problem: "",
      }));
      this.setData({ photos: this.data.photos.concat(added) });
      this.refreshCanSubmit();
      await Promise.all(paths.map((path) => this.uploadOne(path)));
      this.refreshCanSubmit();
    },

    async uploadOne(path: string): Promise<void> {
      let change: Partial<PhotoView>;
      try {
        const uploaded = await uploadPhoto(path);
        change = { url: uploaded.url, uploadId: uploaded.upload_id, state: "done", problem: "" };
      } catch (error) {
        change = { state: "failed", problem: `上传失败:${describeError(error)}` };
      }
      this.setData({
        photos: this.data.photos.map((photo) => (photo.path === path ? { ...photo, ...change } : photo)),
      });
    },

    onRemovePhoto(event: WechatMiniprogram.BaseEvent<Record<string, never>, { path: string }>): void {
      const path = event.currentTarget.dataset.path;
      this.setData({ photos: this.data.photos.filter((photo) => photo.path !== path) });
      this.refreshCanSubmit();
    },

    async onChooseLocation(): Promise<void> {
      let picked;
      try {
        picked = await chooseLocation();
      } catch {
        this.setData({ error: "没有拿到位置(可能没有允许),不附也可以提交。" });
        return;
      }
      if (!picked) return;
      draftOf(this).point = gcj02ToWgs84({ latitude: picked.latitude, longitude: picked.longitude });
      this.setData({ placeName: picked.name || picked.address || "已选位置" });
    },

    onClearLocation(): void {
      draftOf(this).point = null;
      this.setData({ placeName: "" });
    },

    // The precedent answered it: nothing to submit, and the next report is a new draft.
    onAnswerEnough(): void {
      this.resetDraft();
      wx.showToast({ title: "好的,问题还在可以随时再反映", icon: "none" });
    },

    resetDraft(): void {
      const draft = draftOf(this);
      draft.ask?.cancel();
      draft.key = draftKey();
      draft.point = null;
      draft.asked += 1;
      this.setData({ text: "", photos: [], placeName: "", answer: null, error: "" });
      this.refreshCanSubmit();
    },

    buildDraft(): TicketDraft {
      const { text, community, building, photos } = this.data;
      const point = draftOf(this).point;
      const ids = photos.filter((photo) => photo.state === "done").map((photo) => photo.uploadId);
      return {
        text,
        community,
        building: building.trim(),
        attachment_ids: ids,
        ...(point ? { location: point } : {}),
      };
    },

    async onSubmit(): Promise<void> {
      if (!this.data.canSubmit) return;
      // WeChat only shows the consent dialog when it is asked for within the tap, before anything is awaited.
      const notices = askForNotices();
      this.setData({ submitting: true, error: "" });
      this.refreshCanSubmit();
      rememberPlace({ community: this.data.community, building: this.data.building.trim() });
      await notices;
      try {
        const ticket = await submitTicket(this.buildDraft(), draftOf(this).key);
        this.resetDraft();
        wx.navigateTo({ url: `/pages/ticket/index?id=${encodeURIComponent(ticket.id)}` });
      } catch (error) {
        this.setData({ error: describeError(error) });
      } finally {
        this.setData({ submitting: false });
        this.refreshCanSubmit();
      }
    },
  },
});
