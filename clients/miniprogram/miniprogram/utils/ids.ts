// Keys that make a retried submit return the same ticket.

/** A random key, unique per draft: a double tap or a retry after a timeout sends it again. */
export function draftKey(now: number = Date.now(), random: () => number = Math.random): string {
  let suffix = "";
  for (let i = 0; i < 16; i += 1) suffix += Math.floor(random() * 36).toString(36);
  return `mp-${now.toString(36)}-${suffix}`;
}
