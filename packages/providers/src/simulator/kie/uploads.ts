import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { extname } from 'node:path';
import { request } from 'undici';
import { isHttpUrl, type SimCore } from '../common.js';
import type { RecordedRequest } from '../faults.js';
import { sendBytes, sendJson, type Router, type SimRequest } from '../server.js';
import { KieApiError, kieApiStyle, parseJson } from './requests.js';
import type { KieSimOptions, StoredFile } from './types.js';

/*
 * KIE's file-upload API (stream / base64 / URL): files are kept in memory and served at the
 * downloadUrl it answers, /files/kie/<id>/<name>.
 */

const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
const MIME_BY_EXT: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.mp3': 'audio/mpeg',
  '.wav': 'audio/wav',
  '.aac': 'audio/aac',
  '.ogg': 'audio/ogg',
  '.m4a': 'audio/mp4',
  '.mp4': 'video/mp4',
};

/** Mounts the upload routes and the stored files' downloads; returns how many files are stored. */
export function mountKieUploads(
  router: Router,
  core: SimCore,
  opts: KieSimOptions,
  baseUrl: () => string,
): { uploadCount(): number } {
  const files = new Map<string, StoredFile>();

  function mimeFor(fileName: string, given?: string): string {
    const byExt = MIME_BY_EXT[extname(fileName).toLowerCase()];
    if (byExt) return byExt;
    return given && given !== '' ? given.split(';')[0]!.trim() : 'application/octet-stream';
  }

  function safeName(name: string): string {
    const base = name.split(/[\\/]/).pop() ?? '';
    return base.replace(/[^\w.-]+/g, '_') || 'file';
  }

  function store(data: Buffer, fileName: string, uploadPath: string, mimeType: string, res: ServerResponse): void {
    if (data.length === 0) throw new KieApiError(400, 'file is empty');
    if (data.length > MAX_UPLOAD_BYTES) throw new KieApiError(400, 'file is too large');
    const name = safeName(fileName);
    const id = randomUUID();
    files.set(`${id}/${name}`, { data, mimeType });
    const dir = uploadPath.replace(/^\/+|\/+$/g, '');
    sendJson(res, 200, {
      success: true,
      code: 200,
      msg: 'File uploaded successfully',
      data: {
        fileName: name,
        filePath: dir === '' ? name : `${dir}/${name}`,
        downloadUrl: `${baseUrl()}/files/kie/${id}/${encodeURIComponent(name)}`,
        fileSize: data.length,
        mimeType,
        uploadedAt: new Date().toISOString(),
      },
    });
  }

  function uploadPathOf(v: unknown): string {
    if (typeof v !== 'string' || v.trim() === '') throw new KieApiError(400, 'uploadPath is required');
    return v;
  }

  async function streamUpload(req: SimRequest, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? '';
    if (!/^multipart\/form-data/i.test(type)) throw new KieApiError(400, 'expected multipart/form-data');
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(req.body), { headers: { 'content-type': type } }).formData();
    } catch {
      throw new KieApiError(400, 'malformed multipart body');
    }
    const file = form.get('file');
    if (file === null || typeof file === 'string') throw new KieApiError(400, 'file is required');
    const uploadPath = uploadPathOf(form.get('uploadPath'));
    const fileNameField = form.get('fileName');
    const fileName = typeof fileNameField === 'string' && fileNameField !== '' ? fileNameField : file.name || 'file';
    core.last = {
      ...(core.last as RecordedRequest),
      body: { file: { fileName: file.name, size: file.size, type: file.type }, uploadPath, fileName: fileNameField },
    };
    store(Buffer.from(await file.arrayBuffer()), fileName, uploadPath, mimeFor(fileName, file.type), res);
  }

  function base64Upload(req: SimRequest, res: ServerResponse): void {
    const body = parseJson(req);
    const raw = body['base64Data'];
    if (typeof raw !== 'string' || raw.trim() === '') throw new KieApiError(400, 'base64Data is required');
    const uploadPath = uploadPathOf(body['uploadPath']);
    const m = /^data:([^;,]*)(?:;[^;,]*)*;base64,(.*)$/is.exec(raw.trim());
    const payload = (m ? (m[2] ?? '') : raw).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) throw new KieApiError(400, 'base64Data is not valid base64');
    const data = Buffer.from(payload, 'base64');
    const fileName =
      typeof body['fileName'] === 'string' && body['fileName'] !== ''
        ? (body['fileName'] as string)
        : `${randomUUID()}`;
    store(data, fileName, uploadPath, mimeFor(fileName, m?.[1]), res);
  }

  async function urlUpload(req: SimRequest, res: ServerResponse): Promise<void> {
    const body = parseJson(req);
    const fileUrl = body['fileUrl'];
    if (typeof fileUrl !== 'string' || !isHttpUrl(fileUrl))
      throw new KieApiError(400, 'fileUrl must be an http(s) URL');
    const uploadPath = uploadPathOf(body['uploadPath']);
    let data: Buffer;
    let contentType: string | undefined;
    try {
      const r = await request(fileUrl, {
        headersTimeout: 5000,
        bodyTimeout: 5000,
        signal: AbortSignal.timeout(10_000),
      });
      if (r.statusCode !== 200) {
        await r.body.dump();
        throw new Error(`HTTP ${r.statusCode}`);
      }
      data = Buffer.from(await r.body.arrayBuffer());
      const ct = r.headers['content-type'];
      contentType = Array.isArray(ct) ? ct[0] : ct;
    } catch (err) {
      throw new KieApiError(400, `could not download fileUrl: ${err instanceof Error ? err.message : String(err)}`);
    }
    const fromUrl = decodeURIComponent(new URL(fileUrl).pathname.split('/').pop() ?? '');
    const fileName =
      typeof body['fileName'] === 'string' && body['fileName'] !== ''
        ? (body['fileName'] as string)
        : fromUrl || randomUUID();
    store(data, fileName, uploadPath, mimeFor(fileName, contentType), res);
  }

  // Upload errors add `success: false`; every upload answer waits the injected latency.
  const style = kieApiStyle(opts, { success: false });
  router
    .on('POST', '/api/file-stream-upload', core.api(style, false, core.delayed(streamUpload)))
    .on('POST', '/api/file-base64-upload', core.api(style, false, core.delayed(base64Upload)))
    .on('POST', '/api/file-url-upload', core.api(style, false, core.delayed(urlUpload)))
    .on('GET', '/files/kie/:id/:name', (req, res) => {
      const f = files.get(`${req.params['id'] ?? ''}/${req.params['name'] ?? ''}`);
      if (!f) {
        sendJson(res, 404, { code: 404, msg: 'file not found' });
        return;
      }
      sendBytes(req, res, f.data, f.mimeType);
    });
  return { uploadCount: () => files.size };
}
