/** Exports of a map: its coordinates as CSV, and saving blobs as files. */
import type { MapData } from './map-data';

function csvField(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * One row per point in draw order: the API's image id, the image's position in the dataset and
 * its source id, the t-SNE coordinates as stored, and where the viewer draws it (normalized, or
 * Procrustes-aligned onto the other pane).
 */
export function coordinatesCsv(data: MapData): string {
  const lines = ['image_id,source_index,source_id,tsne_x,tsne_y,view_x,view_y'];
  for (let p = 0; p < data.count; p++) {
    lines.push(
      [
        String(data.imageIds[p]),
        String(data.sourceIndex[p]),
        csvField(data.sourceIds[p] ?? ''),
        String(data.rawX[p]),
        String(data.rawY[p]),
        String(data.x[p]),
        String(data.y[p]),
      ].join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  link.rel = 'noopener';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** A file name part: letters, digits, '.', '_', '-'. */
export function fileSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'map';
}
