import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { S3Settings } from '../../src/storage/s3-store.js';

export interface TestS3 {
  /** The endpoint, e.g. http://127.0.0.1:41234. */
  endpoint: string;
  bucket: string;
  /** The S3_* variables that point Clipwire at this server (as loadConfig takes them). */
  env: Record<string, string>;
  /** The same, as S3Store's settings (no presigned URLs unless `presign` is set). */
  settings: S3Settings;
  stop(): Promise<void>;
}

/**
 * A real S3-protocol server (s3rver: the S3 REST API over HTTP, objects on disk) in this process, on a
 * free loopback port, with one empty bucket; its files are removed on stop.
 */
export async function startS3(bucket = 'clipwire-test'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'clipwire-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  // s3rver accepts these (its documented default credentials) and checks the signature with them.
  const accessKeyId = 'S3RVER';
  const secretAccessKey = 'S3RVER';
  return {
    endpoint,
    bucket,
    env: {
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: accessKeyId,
      S3_SECRET_ACCESS_KEY: secretAccessKey,
      S3_FORCE_PATH_STYLE: 'true',
    },
    settings: {
      endpoint,
      bucket,
      region: 'us-east-1',
      accessKeyId,
      secretAccessKey,
      forcePathStyle: true,
      presign: null,
    },
    async stop() {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
