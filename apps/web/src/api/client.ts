/**
 * The browser's GraphQL client: POSTs to this app's /api/strata proxy (which adds the token),
 * turns GraphQL errors into ApiError with the API's stable extensions.code, and sends the user
 * to the login page when the token is missing or revoked.
 */

export const API_BASE = '/api/strata';
export const CLIENT_HEADERS: Readonly<Record<string, string>> = { 'x-strata-client': 'web' };

export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(message: string, code: string, status: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

interface GraphQLResponse<T> {
  readonly data?: T | null;
  readonly errors?: readonly { readonly message: string; readonly extensions?: { readonly code?: string } }[];
}

function toLogin(): void {
  if (typeof window === 'undefined' || window.location.pathname.startsWith('/login')) return;
  const next = encodeURIComponent(window.location.pathname + window.location.search);
  window.location.assign(`/login?next=${next}`);
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}, options: { signal?: AbortSignal } = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API_BASE}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...CLIENT_HEADERS },
      body: JSON.stringify({ query, variables }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError('the web server cannot be reached; check your connection', 'NETWORK', 0);
  }
  const body = (await response.json().catch(() => null)) as GraphQLResponse<T> | null;
  const first = body?.errors?.[0];
  if (first) {
    const code = first.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
    if (code === 'UNAUTHENTICATED') toLogin();
    throw new ApiError(first.message, code, response.status);
  }
  if (!response.ok || !body?.data) throw new ApiError(`the API answered ${response.status} ${response.statusText}`.trim(), 'INTERNAL_SERVER_ERROR', response.status);
  return body.data;
}

/** POST /uploads?kind=image: the file as the raw body; returns its upload id. */
export async function uploadImage(file: Blob, options: { signal?: AbortSignal } = {}): Promise<string> {
  const response = await fetch(`${API_BASE}/uploads?kind=image`, {
    method: 'POST',
    headers: { 'content-type': file.type || 'application/octet-stream', ...CLIENT_HEADERS },
    body: file,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const body = (await response.json().catch(() => null)) as { id?: string; error?: { code?: string; message?: string }; errors?: { message: string; extensions?: { code?: string } }[] } | null;
  if (response.ok && body?.id) return body.id;
  const code = body?.error?.code ?? body?.errors?.[0]?.extensions?.code ?? (response.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INTERNAL_SERVER_ERROR');
  const message = body?.error?.message ?? body?.errors?.[0]?.message ?? `the upload failed (${response.status})`;
  if (code === 'UNAUTHENTICATED') toLogin();
  throw new ApiError(message, code, response.status);
}

/**
 * POST /uploads?kind=hdf5 with upload progress (XMLHttpRequest: fetch cannot report it), for an
 * image brick that becomes a dataset; returns its upload id.
 */
export function uploadDatasetFile(file: File, onProgress: (sent: number, total: number) => void, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', `${API_BASE}/uploads?kind=hdf5`);
    for (const [name, value] of Object.entries(CLIENT_HEADERS)) request.setRequestHeader(name, value);
    request.setRequestHeader('content-type', 'application/x-hdf5');
    request.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    request.onerror = () => reject(new ApiError('the upload failed: the connection was lost', 'NETWORK', 0));
    request.onabort = () => reject(new DOMException('aborted', 'AbortError'));
    request.onload = () => {
      type Body = { id?: string; error?: { code?: string; message?: string }; errors?: { message: string; extensions?: { code?: string } }[] };
      let body: Body | null;
      try {
        body = JSON.parse(request.responseText) as Body;
      } catch {
        body = null;
      }
      if (request.status >= 200 && request.status < 300 && body?.id) {
        resolve(body.id);
        return;
      }
      const code = body?.error?.code ?? body?.errors?.[0]?.extensions?.code ?? (request.status === 413 ? 'PAYLOAD_TOO_LARGE' : 'INTERNAL_SERVER_ERROR');
      if (code === 'UNAUTHENTICATED') toLogin();
      reject(new ApiError(body?.error?.message ?? body?.errors?.[0]?.message ?? `the upload failed (${request.status})`, code, request.status));
    };
    signal?.addEventListener('abort', () => request.abort(), { once: true });
    request.send(file);
  });
}

/** A file the API serves (thumbnails, images, mosaics, atlas sheets), through this app's proxy. */
export function fileUrl(path: string): string {
  return `${API_BASE}/files/${path.replace(/^\/+/, '')}`;
}

/** An absolute URL the API handed out (signed), re-pointed at the proxy: same path and query. */
export function proxied(url: string): string {
  const parsed = new URL(url, 'http://localhost');
  return `${API_BASE}${parsed.pathname}${parsed.search}`;
}

export const thumbnailUrl = (imageId: string | number): string => fileUrl(`thumbnails/${imageId}`);
export const imageUrl = (imageId: string | number): string => fileUrl(`images/${imageId}`);

/** A short, human message for an error of any kind. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    switch (error.code) {
      case 'FORBIDDEN':
        return `Not allowed: ${error.message}`;
      case 'TOO_MANY_REQUESTS':
        return `The server is busy: ${error.message}`;
      default:
        return error.message;
    }
  }
  return error instanceof Error ? error.message : String(error);
}
