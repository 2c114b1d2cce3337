// Replay's windows and frames: which past windows the slider offers, and
// how far one frame steps.

/** The windows offered, in seconds: Kiali's last 1–30 minutes, and longer. */
export const replayWindows = [60, 300, 600, 1800, 3600, 10800, 21600, 86400];

/** One frame of a window: Kiali's 10 s up to 30 minutes, about 180 frames above. */
export function frameSeconds(window: number): number {
  return window <= 1800 ? 10 : Math.round(window / 180 / 10) * 10;
}

/**
 * The windows whose start the store holds data for, given when its data
 * begins (dataSince, Unix seconds; undefined when the store cannot tell,
 * and then every window). A window starting a little before the data (a
 * tenth of it, at least a minute: dataSince is found to within a few of
 * the store's steps) still counts; the shortest window is always offered.
 */
export function heldWindows(now: number, dataSince: number | undefined): number[] {
  if (dataSince === undefined) return replayWindows;
  const held = now - dataSince;
  const out = replayWindows.filter((w, i) => i === 0 || w <= held + Math.max(60, w / 10));
  return out;
}

/** The slider's first second: the window's start, or the data's when later. */
export function replayStart(now: number, window: number, dataSince: number | undefined): number {
  const start = now - window;
  return dataSince !== undefined && dataSince > start && dataSince < now ? dataSince : start;
}
