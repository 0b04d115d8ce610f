// The community and building the resident last reported from, so that the next report starts there.

export const PLACE_KEY = "linli.place";

export interface Place {
  community: string;
  building: string;
}

export function rememberedPlace(): Place {
  const value: unknown = wx.getStorageSync(PLACE_KEY);
  if (!value || typeof value !== "object") return { community: "", building: "" };
  const place = value as Partial<Place>;
  return { community: place.community ?? "", building: place.building ?? "" };
}

export function rememberPlace(place: Place): void {
  wx.setStorageSync(PLACE_KEY, place);
}
