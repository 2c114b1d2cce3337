// How numbers read in the console.

/** Requests (or messages) per second: two decimals as Kiali's API, fewer when large. */
export function rate(rps: number | undefined): string {
  if (rps === undefined || Number.isNaN(rps)) return '-';
  if (rps >= 1000) return `${(rps / 1000).toFixed(1)}k rps`;
  if (rps >= 100) return `${rps.toFixed(0)} rps`;
  return `${rps.toFixed(2)} rps`;
}

/** A share in percent, one decimal. */
export function percent(p: number | undefined): string {
  if (p === undefined || Number.isNaN(p)) return '-';
  return `${p.toFixed(1)}%`;
}

/** Milliseconds: whole under 10 s, else seconds. */
export function millis(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return '-';
  if (ms >= 10000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms >= 100) return `${ms.toFixed(0)}ms`;
  return `${ms.toFixed(ms < 10 ? 2 : 1)}ms`;
}

/** Bytes per second, in binary units. */
export function bytesPerSecond(bps: number | undefined): string {
  if (bps === undefined || Number.isNaN(bps)) return '-';
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let v = bps;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

const durationUnits: [string, number][] = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/** Seconds as Prometheus writes durations: 90 is 1m30s, 3600 is 1h. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds <= 0) return '0s';
  let left = Math.round(seconds);
  let out = '';
  for (const [unit, size] of durationUnits) {
    if (left >= size) {
      out += `${Math.floor(left / size)}${unit}`;
      left %= size;
    }
  }
  return out;
}

/** A Prometheus duration ("90s", "1h30m", "600") in seconds; undefined when not one. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const re = /(\d+)(ms|d|h|m|s|w|y)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(t)) !== null) {
    const n = Number(m[1]);
    const unit = m[2];
    const size = unit === 'y' ? 31536000 : unit === 'w' ? 604800 : unit === 'd' ? 86400 : unit === 'h' ? 3600 : unit === 'm' ? 60 : unit === 's' ? 1 : 0.001;
    total += n * size;
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== t.length) return undefined;
  return total;
}

/** A time of day for a Unix time, in the browser's zone. */
export function clock(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
