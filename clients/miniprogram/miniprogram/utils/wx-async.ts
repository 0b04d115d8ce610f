// The WeChat pickers and prompts the pages use, as promises; a resident's cancel resolves to null, not an error.

import { subscribeTemplateIds } from "../config";

function cancelled(errMsg: string): boolean {
  return /cancel/i.test(errMsg);
}

/** Images from the album or camera (compressed): their temporary paths, null when the resident cancels. */
export function choosePhotos(count: number): Promise<string[] | null> {
  return new Promise((resolve, reject) => {
    wx.chooseMedia({
      count,
      mediaType: ["image"],
      sourceType: ["album", "camera"],
      sizeType: ["compressed"],
      success: (result) => resolve(result.tempFiles.map((file) => file.tempFilePath)),
      fail: (problem) => (cancelled(problem.errMsg) ? resolve(null) : reject(new Error(problem.errMsg))),
    });
  });
}

export interface PickedPlace {
  name: string;
  address: string;
  /** GCJ-02, as WeChat's map gives it. */
  latitude: number;
  longitude: number;
}

/** A point the resident picks on the map, null when they cancel. */
export function chooseLocation(): Promise<PickedPlace | null> {
  return new Promise((resolve, reject) => {
    wx.chooseLocation({
      success: (result) =>
        resolve({ name: result.name, address: result.address, latitude: result.latitude, longitude: result.longitude }),
      fail: (problem) => (cancelled(problem.errMsg) ? resolve(null) : reject(new Error(problem.errMsg))),
    });
  });
}

/** Asks consent for the accepted/resolved notices; a refusal or an error never stops the report. */
export function askForNotices(): Promise<void> {
  const tmplIds = subscribeTemplateIds();
  if (tmplIds.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    wx.requestSubscribeMessage({ tmplIds, success: () => resolve(), fail: () => resolve() });
  });
}

/** A yes/no question; true when the resident confirms. */
export function confirm(title: string, content: string): Promise<boolean> {
  return new Promise((resolve) => {
    wx.showModal({ title, content, success: (result) => resolve(result.confirm), fail: () => resolve(false) });
  });
}
