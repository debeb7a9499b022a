import type { Config } from '../config.js';
import { FsStore } from './fs-store.js';
import type { ObjectStore } from './object-store.js';

/**
 * The configured object store: the S3 bucket when S3_BUCKET is set, else files under
 * `$CLIPWIRE_DATA_DIR/media` (a private temporary directory, removed on close, for `memory://`).
 * Presigned URLs: only from S3, and only for an endpoint outsiders reach — AWS's own, or the one
 * S3_PUBLIC_ENDPOINT names; an S3_ENDPOINT without it (MinIO on a private network) gives none.
 */
export async function openObjectStore(config: Pick<Config, 'storage' | 'dataDir'>): Promise<ObjectStore> {
  const { storage } = config;
  if (storage.kind === 's3') {
    const { kind: _kind, ...settings } = storage;
    // The AWS SDK is loaded only by deployments that use it.
    const { S3Store } = await import('./s3-store.js');
    return new S3Store(settings);
  }
  return FsStore.open(config.dataDir);
}
