// Photos on the H5 page and the console: pick (camera or album), upload each at once with a preview and a remove
// button, and show a ticket's photos as thumbnails linking to the full photo. Needs common.js.
"use strict";

const MAX_PHOTOS = 9;
const KIND_NAMES = { before: "居民拍摄", after: "处理后" };

// POST /v1/uploads with one file (multipart, field `file`); the browser sets the multipart Content-Type.
async function uploadPhoto(file, token, ticketId) {
  const form = new FormData();
  form.append("file", file);
  if (ticketId) form.append("ticket_id", ticketId);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch("/v1/uploads", { method: "POST", headers, body: form });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// Wires a file input to a list of previews; `send(file)` uploads one file and resolves to the upload.
// Returns ids() of the uploaded photos, busy() while any upload is under way, and clear().
function photoPicker(input, list, send) {
  const photos = []; // {file, preview, upload, failed, item}

  function render() {
    list.replaceChildren(...photos.map((photo) => photo.item));
    show(list, photos.length > 0);
  }

  function remove(photo) {
    photos.splice(photos.indexOf(photo), 1);
    URL.revokeObjectURL(photo.preview);
    render();
  }

  async function add(file) {
    const photo = { file, preview: URL.createObjectURL(file), upload: null, failed: false };
    const status = el("span", { class: "photo-status" }, "上传中…");
    const removeButton = el("button", { type: "button", class: "photo-remove", "aria-label": "移除这张照片" }, "移除");
    removeButton.addEventListener("click", () => remove(photo));
    photo.item = el("li", { class: "photo" }, el("img", { src: photo.preview, alt: file.name }), status, removeButton);
    photos.push(photo);
    render();
    try {
      photo.upload = await send(file);
      status.textContent = "已上传";
    } catch (problem) {
      photo.failed = true;
      photo.item.classList.add("photo-failed");
      status.textContent = problem.message || "上传失败,请移除后重试";
    }
  }

  input.addEventListener("change", () => {
    const room = MAX_PHOTOS - photos.length;
    const files = Array.from(input.files || []);
    files.slice(0, Math.max(room, 0)).forEach(add);
    if (files.length > room) alert(`最多 ${MAX_PHOTOS} 张照片,多出的没有加上。`);
    input.value = "";
  });

  return {
    ids: () => photos.filter((p) => p.upload).map((p) => p.upload.upload_id),
    busy: () => photos.some((p) => !p.upload && !p.failed),
    clear: () => photos.slice().forEach(remove),
  };
}

// A ticket's photos as thumbnails, each linking to the full photo (signed links: they expire, a reload renews them).
function photoGallery(attachments) {
  return attachments.map((photo) =>
    el(
      "li",
      { class: `photo photo-${photo.kind}` },
      el(
        "a",
        { href: photo.url, target: "_blank", rel: "noopener" },
        el("img", { src: photo.thumbnail_url, alt: KIND_NAMES[photo.kind] || "照片", loading: "lazy" }),
      ),
      el("span", { class: "photo-kind" }, KIND_NAMES[photo.kind] || ""),
    ),
  );
}
