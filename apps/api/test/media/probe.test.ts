import { describe, expect, it } from 'vitest';
import { PROBE_PREFIX_BYTES, neededBytes, needsWholeFile, probeMedia } from '../../src/media/probe.js';
import { fixture } from './helpers.js';

describe('probeMedia on real files', () => {
  it('reads PNG type and dimensions', async () => {
    const bytes = fixture('portrait-512x640.png');
    expect(await probeMedia(bytes)).toEqual({
      kind: 'image',
      mime: 'image/png',
      ext: 'png',
      sizeBytes: bytes.length,
      width: 512,
      height: 640,
      complete: true,
      intact: true,
    });
  });

  it('reads JPEG type and dimensions', async () => {
    expect(await probeMedia(fixture('landscape-600x400.jpg'))).toMatchObject({
      kind: 'image',
      mime: 'image/jpeg',
      ext: 'jpg',
      width: 600,
      height: 400,
    });
  });

  it('reads WebP and GIF types', async () => {
    expect(await probeMedia(fixture('portrait-400x500.webp'))).toMatchObject({
      mime: 'image/webp',
      width: 400,
      height: 500,
    });
    expect(await probeMedia(fixture('square-400x400.gif'))).toMatchObject({
      mime: 'image/gif',
      width: 400,
      height: 400,
    });
  });

  it('takes the type from the bytes, not the name (a JPEG named photo.png)', async () => {
    expect(await probeMedia(fixture('photo.png'))).toMatchObject({ kind: 'image', mime: 'image/jpeg', ext: 'jpg' });
  });

  it('reads MP3 duration', async () => {
    const p = await probeMedia(fixture('speech-3s.mp3'));
    expect(p).toMatchObject({ kind: 'audio', mime: 'audio/mpeg', ext: 'mp3' });
    expect(p.durationSeconds).toBeCloseTo(3, 0);
  });

  it('reads WAV duration', async () => {
    const p = await probeMedia(fixture('tone-3s.wav'));
    expect(p).toMatchObject({ kind: 'audio', mime: 'audio/wav', ext: 'wav', durationSeconds: 3 });
  });

  it('reads M4A and Ogg durations', async () => {
    const m4a = await probeMedia(fixture('tone-3s.m4a'));
    expect(m4a).toMatchObject({ kind: 'audio', mime: 'audio/x-m4a', ext: 'm4a' });
    expect(m4a.durationSeconds).toBeCloseTo(3, 0);
    const ogg = await probeMedia(fixture('tone-3s.ogg'));
    expect(ogg).toMatchObject({ kind: 'audio', mime: 'audio/ogg', durationSeconds: 3 });
  });

  it('reads MP4 duration and frame size (with an audio track)', async () => {
    const p = await probeMedia(fixture('avatar-sample-2.5s.mp4'));
    expect(p).toMatchObject({ kind: 'video', mime: 'video/mp4', ext: 'mp4', width: 320, height: 320 });
    expect(p.durationSeconds).toBeCloseTo(2.5, 1);
  });

  it('reads MP4 and MOV duration of video-only files (no audio track)', async () => {
    const mp4 = await probeMedia(fixture('clip-4s.mp4'));
    expect(mp4).toMatchObject({ kind: 'video', mime: 'video/mp4', width: 64, height: 64, durationSeconds: 4 });
    const mov = await probeMedia(fixture('clip-4s.mov'));
    expect(mov).toMatchObject({ kind: 'video', mime: 'video/quicktime', ext: 'mov', durationSeconds: 4 });
    const late = await probeMedia(fixture('clip-4s-moov-at-end.mp4'));
    expect(late.durationSeconds).toBe(4);
  });

  it('reports unknown bytes as unknown', async () => {
    expect(await probeMedia(Buffer.from('just some text, not media'))).toEqual({
      kind: 'unknown',
      mime: 'application/octet-stream',
      ext: 'bin',
      sizeBytes: 25,
      complete: true,
    });
  });
});

describe('probing a prefix', () => {
  it('gets image dimensions from the first bytes, with the total size from totalSize; integrity needs the whole file', async () => {
    const whole = fixture('portrait-512x640.png');
    const prefix = whole.subarray(0, 1024);
    const p = await probeMedia(prefix, { totalSize: whole.length });
    expect(p).toEqual({
      kind: 'image',
      mime: 'image/png',
      ext: 'png',
      sizeBytes: whole.length,
      width: 512,
      height: 640,
      complete: false,
    });
    expect(needsWholeFile(p)).toBe(true);
  });

  it('gets JPEG dimensions from a 4 KiB prefix', async () => {
    const whole = fixture('wide-1000x300.jpg');
    const p = await probeMedia(whole.subarray(0, 4096), { totalSize: whole.length });
    expect(p).toMatchObject({ width: 1000, height: 300, complete: false });
  });

  it('does not report an audio duration from a prefix (it would be wrong) and asks for the whole file', async () => {
    const whole = fixture('tone-3s.wav');
    const p = await probeMedia(whole.subarray(0, 4096), { totalSize: whole.length });
    expect(p).toMatchObject({ kind: 'audio', mime: 'audio/wav', sizeBytes: whole.length, complete: false });
    expect(p.durationSeconds).toBeUndefined();
    expect(needsWholeFile(p)).toBe(true);
  });

  it('gets an MP4 duration from a prefix when moov comes first (faststart), not when it is at the end', async () => {
    const fast = fixture('clip-4s.mp4');
    const pf = await probeMedia(fast.subarray(0, 2048), { totalSize: fast.length });
    expect(pf.durationSeconds).toBe(4);
    expect(needsWholeFile(pf)).toBe(false);
    const late = fixture('clip-4s-moov-at-end.mp4');
    const pl = await probeMedia(late.subarray(0, 2048), { totalSize: late.length });
    expect(pl.durationSeconds).toBeUndefined();
    expect(needsWholeFile(pl)).toBe(true);
  });

  it('treats bytes as a prefix when told so, even without a total size (a cut body of unknown length)', async () => {
    const whole = fixture('tone-3s.wav');
    const p = await probeMedia(whole.subarray(0, 4096), { complete: false });
    expect(p).toMatchObject({ kind: 'audio', sizeBytes: 4096, complete: false });
    expect(p.durationSeconds).toBeUndefined();
    expect(p.intact).toBeUndefined();
    expect(needsWholeFile(p)).toBe(true);
  });

  it('neededBytes: the whole file for images (integrity), audio and video; a prefix for unknown types', () => {
    expect(neededBytes('image')).toBe(Number.POSITIVE_INFINITY);
    expect(neededBytes('unknown')).toBe(PROBE_PREFIX_BYTES);
    expect(neededBytes('audio')).toBe(Number.POSITIVE_INFINITY);
    expect(neededBytes('video')).toBe(Number.POSITIVE_INFINITY);
  });
});
