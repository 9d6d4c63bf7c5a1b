/**
 * Progress for long commands: a live bar with rate and ETA on a terminal, and a plain line
 * every few seconds when output goes to a file or CI log.
 */
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  update(done: number, fields: { rate: number; note?: string }): void;
  stop(): void;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

export function createProgress(label: string, total: number, unit: string, startAt = 0): ProgressReporter {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} |{bar}| {percentage}% {value}/{total} ${unit} | {rate} ${unit}/s | ETA {etaText}{note}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, startAt, { rate: '-', etaText: '--', note: '' });
    return {
      update(done, { rate, note }) {
        const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
        bar.update(done, { rate: rate.toFixed(1), etaText: formatSeconds(eta), note: note ? ` | ${note}` : '' });
      },
      stop: () => bar.stop(),
    };
  }
  let lastPrint = 0;
  return {
    update(done, { rate, note }) {
      const now = Date.now();
      if (now - lastPrint < 5000 && done < total) return;
      lastPrint = now;
      const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY;
      process.stderr.write(
        `${label}: ${done}/${total} ${unit} (${((100 * done) / Math.max(total, 1)).toFixed(1)}%), ${rate.toFixed(1)} ${unit}/s, ETA ${formatSeconds(eta)}${note ? `, ${note}` : ''}\n`,
      );
    },
    stop() {},
  };
}
