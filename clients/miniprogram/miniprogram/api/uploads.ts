// Photos: a picked image uploaded to intake (POST /v1/uploads, multipart, field `file`); the ticket then takes it by
// its upload id.

import { upload } from "./http";
import { asResident } from "./session";
import type { Upload } from "./types";

export const UPLOAD_FIELD = "file";

/** POST /v1/uploads with one local image (a wx.chooseMedia tempFilePath): its id and signed links. */
export function uploadPhoto(filePath: string): Promise<Upload> {
  return asResident((token) => upload<Upload>({ path: "/v1/uploads", filePath, name: UPLOAD_FIELD, token }));
}
