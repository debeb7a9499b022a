/*
 * Sample media of any length, made in JS from the committed samples (no ffmpeg, nothing downloaded):
 * an output is as long as the input it was made from, as a provider's would be.
 *
 * - MP4: every track's samples are repeated from the start until the track lasts the duration (the
 *   last sample shortened to end exactly on it), written as a new faststart file — moov with its
 *   mvhd/tkhd/mdhd durations and a fresh sample table (stts, stss, stsc, stsz, stco), then one mdat.
 *   The samples are H.264 baseline (no B-frames; the first frame is an IDR) and AAC, so the repeats
 *   decode. Edit lists and sample groups are dropped.
 * - MP3: the CBR frames after the Info frame, repeated (the first has no bit-reservoir dependency),
 *   without ID3 or Info: a duration-counting reader gets frames × 576 / sample rate.
 * - WAV: a canonical 44-byte header and the sample's PCM, repeated.
 */

interface Box {
  type: string;
  /** The whole box, header included. */
  start: number;
  end: number;
  /** Payload start. */
  body: number;
}

function boxesIn(b: Buffer, from: number, to: number): Box[] {
  const out: Box[] = [];
  let pos = from;
  while (pos + 8 <= to) {
    const size = b.readUInt32BE(pos);
    if (size < 8 || pos + size > to) throw new Error(`synth: unsupported box at ${pos}`);
    out.push({ type: b.toString('latin1', pos + 4, pos + 8), start: pos, end: pos + size, body: pos + 8 });
    pos += size;
  }
  return out;
}

function child(b: Buffer, parent: Box, type: string): Box {
  const found = boxesIn(b, parent.body, parent.end).find((c) => c.type === type);
  if (!found) throw new Error(`synth: no ${type} in ${parent.type}`);
  return found;
}

function optionalChild(b: Buffer, parent: Box, type: string): Box | undefined {
  return boxesIn(b, parent.body, parent.end).find((c) => c.type === type);
}

function box(type: string, ...parts: Buffer[]): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + parts.reduce((n, p) => n + p.length, 0), 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, ...parts]);
}

/** A full box's payload: version 0, flags 0, then 32-bit words. */
function fullBox(type: string, words: number[]): Buffer {
  const body = Buffer.alloc(4 + words.length * 4);
  words.forEach((w, i) => body.writeUInt32BE(w >>> 0, 4 + i * 4));
  return box(type, body);
}

/** A copy of a version-0 full box with the 32-bit word at `offset` (from its payload) replaced. */
function patched(b: Buffer, x: Box, offset: number, value: number): Buffer {
  if (b[x.body] !== 0) throw new Error(`synth: ${x.type} version 1 is not supported`);
  const copy = Buffer.from(b.subarray(x.start, x.end));
  copy.writeUInt32BE(value >>> 0, 8 + offset);
  return copy;
}

interface Track {
  trak: Box;
  timescale: number;
  /** Each sample's bytes (a view of the source) and duration, in order. */
  samples: { data: Buffer; delta: number }[];
  sync: Set<number> | null;
}

function readTrack(b: Buffer, trak: Box): Track {
  const mdia = child(b, trak, 'mdia');
  const mdhd = child(b, mdia, 'mdhd');
  const stbl = child(b, child(b, mdia, 'minf'), 'stbl');
  const timescale = b.readUInt32BE(mdhd.body + 12);
  const deltas: number[] = [];
  const stts = child(b, stbl, 'stts');
  for (let i = 0, n = b.readUInt32BE(stts.body + 4); i < n; i++) {
    const count = b.readUInt32BE(stts.body + 8 + i * 8);
    const delta = b.readUInt32BE(stts.body + 12 + i * 8);
    for (let k = 0; k < count; k++) deltas.push(delta);
  }
  const stsz = child(b, stbl, 'stsz');
  const fixed = b.readUInt32BE(stsz.body + 4);
  const count = b.readUInt32BE(stsz.body + 8);
  const size = (i: number) => (fixed !== 0 ? fixed : b.readUInt32BE(stsz.body + 12 + i * 4));
  const stco = child(b, stbl, 'stco');
  const offsets = Array.from({ length: b.readUInt32BE(stco.body + 4) }, (_, i) =>
    b.readUInt32BE(stco.body + 8 + i * 4),
  );
  const stsc = child(b, stbl, 'stsc');
  const runs = Array.from({ length: b.readUInt32BE(stsc.body + 4) }, (_, i) => ({
    first: b.readUInt32BE(stsc.body + 8 + i * 12),
    perChunk: b.readUInt32BE(stsc.body + 12 + i * 12),
  }));
  const samples: Track['samples'] = [];
  let run = 0;
  for (let chunk = 1; chunk <= offsets.length && samples.length < count; chunk++) {
    while (run + 1 < runs.length && runs[run + 1]!.first <= chunk) run++;
    let at = offsets[chunk - 1]!;
    for (let k = 0; k < runs[run]!.perChunk && samples.length < count; k++) {
      const i = samples.length;
      samples.push({ data: b.subarray(at, at + size(i)), delta: deltas[i] ?? deltas.at(-1)! });
      at += size(i);
    }
  }
  const stss = optionalChild(b, stbl, 'stss');
  const sync = stss
    ? new Set(
        Array.from({ length: b.readUInt32BE(stss.body + 4) }, (_, i) => b.readUInt32BE(stss.body + 8 + i * 4) - 1),
      )
    : null;
  return { trak, timescale, samples, sync };
}

/** `track`'s samples repeated until they last `seconds`, the last one cut to end on it. */
function loopTrack(track: Track, seconds: number): { data: Buffer[]; deltas: number[]; sync: number[]; units: number } {
  if (track.samples.length === 0) throw new Error('synth: a track without samples');
  const units = Math.max(1, Math.round(seconds * track.timescale));
  const data: Buffer[] = [];
  const deltas: number[] = [];
  const sync: number[] = [];
  let t = 0;
  for (let i = 0; t < units; i++) {
    const k = i % track.samples.length;
    const s = track.samples[k]!;
    if (track.sync?.has(k)) sync.push(i + 1);
    data.push(s.data);
    deltas.push(Math.min(s.delta, units - t));
    t += s.delta;
  }
  return { data, deltas, sync, units };
}

function sttsOf(deltas: number[]): Buffer {
  const runs: number[] = [];
  for (const d of deltas) {
    if (runs.length > 0 && runs.at(-1) === d) runs[runs.length - 2]! += 1;
    else runs.push(1, d);
  }
  return fullBox('stts', [runs.length / 2, ...runs]);
}

/** An MP4 made from `sample` (a faststart MP4 with 32-bit boxes) lasting `seconds`. */
export function mp4OfDuration(sample: Buffer, seconds: number): Buffer {
  const top = boxesIn(sample, 0, sample.length);
  const ftyp = top.find((x) => x.type === 'ftyp');
  const moov = top.find((x) => x.type === 'moov');
  if (!ftyp || !moov) throw new Error('synth: not an MP4 sample');
  const mvhd = child(sample, moov, 'mvhd');
  const movieScale = sample.readUInt32BE(mvhd.body + 12);
  const tracks = boxesIn(sample, moov.body, moov.end)
    .filter((x) => x.type === 'trak')
    .map((trak) => ({ track: readTrack(sample, trak), looped: null as ReturnType<typeof loopTrack> | null }));
  for (const t of tracks) t.looped = loopTrack(t.track, seconds);

  // moov's size does not depend on the chunk offsets (one 32-bit offset per track), so build it twice.
  const build = (chunkOffsets: number[]): Buffer => {
    const traks = tracks.map(({ track, looped }, i) => {
      const l = looped!;
      const b = sample;
      const mdia = child(b, track.trak, 'mdia');
      const minf = child(b, mdia, 'minf');
      const stbl = child(b, minf, 'stbl');
      const media = boxesIn(b, minf.body, minf.end)
        .filter((x) => x.type !== 'stbl')
        .map((x) => b.subarray(x.start, x.end));
      const sizes = Buffer.alloc(12 + l.data.length * 4);
      sizes.writeUInt32BE(l.data.length, 8);
      l.data.forEach((d, k) => sizes.writeUInt32BE(d.length, 12 + k * 4));
      const table = [
        b.subarray(child(b, stbl, 'stsd').start, child(b, stbl, 'stsd').end),
        sttsOf(l.deltas),
        ...(track.sync ? [fullBox('stss', [l.sync.length, ...l.sync])] : []),
        fullBox('stsc', [1, 1, l.data.length, 1]),
        box('stsz', sizes),
        fullBox('stco', [1, chunkOffsets[i] ?? 0]),
      ];
      return box(
        'trak',
        patched(b, child(b, track.trak, 'tkhd'), 20, Math.round(seconds * movieScale)),
        box(
          'mdia',
          patched(b, child(b, mdia, 'mdhd'), 16, l.units),
          b.subarray(child(b, mdia, 'hdlr').start, child(b, mdia, 'hdlr').end),
          box('minf', ...media, box('stbl', ...table)),
        ),
      );
    });
    return box('moov', patched(sample, mvhd, 16, Math.round(seconds * movieScale)), ...traks);
  };
  const head = sample.subarray(ftyp.start, ftyp.end);
  const moovLength = build(tracks.map(() => 0)).length;
  const offsets: number[] = [];
  let at = head.length + moovLength + 8;
  for (const t of tracks) {
    offsets.push(at);
    at += t.looped!.data.reduce((n, d) => n + d.length, 0);
  }
  const mdat = box('mdat', ...tracks.flatMap((t) => t.looped!.data));
  return Buffer.concat([head, build(offsets), mdat]);
}

/** MPEG audio layer III frame length and samples per frame at `p`, or null when no frame starts there. */
function mp3Frame(b: Buffer, p: number): { length: number; samples: number; rate: number } | null {
  if (p + 4 > b.length || b[p] !== 0xff || (b[p + 1]! & 0xe0) !== 0xe0) return null;
  const mpeg1 = ((b[p + 1]! >> 3) & 3) === 3;
  if (((b[p + 1]! >> 1) & 3) !== 1) return null; // layer III only
  const kbps = mpeg1
    ? [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320]
    : [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
  const rates: Record<number, number[]> = {
    3: [44100, 48000, 32000],
    2: [22050, 24000, 16000],
    0: [11025, 12000, 8000],
  };
  const rate = rates[(b[p + 1]! >> 3) & 3]?.[(b[p + 2]! >> 2) & 3];
  const bitrate = (kbps[b[p + 2]! >> 4] ?? 0) * 1000;
  if (!rate || !bitrate) return null;
  const samples = mpeg1 ? 1152 : 576;
  return { length: Math.floor(((samples / 8) * bitrate) / rate) + ((b[p + 2]! >> 1) & 1), samples, rate };
}

/** An MP3 made from `sample`'s frames lasting `seconds` (to the nearest frame); its exact duration beside it. */
export function mp3OfDuration(sample: Buffer, seconds: number): { bytes: Buffer; seconds: number } {
  let p = 0;
  if (sample.toString('latin1', 0, 3) === 'ID3') {
    p = 10 + (((sample[6]! & 127) << 21) | ((sample[7]! & 127) << 14) | ((sample[8]! & 127) << 7) | (sample[9]! & 127));
  }
  const frames: Buffer[] = [];
  let info = -1;
  for (let f = mp3Frame(sample, p); f !== null && p + f.length <= sample.length; f = mp3Frame(sample, p)) {
    const frame = sample.subarray(p, p + f.length);
    const tag = frame.subarray(4, 64).toString('latin1');
    if (frames.length === 0 && info < 0 && (tag.includes('Info') || tag.includes('Xing'))) info = p;
    else frames.push(frame);
    p += f.length;
  }
  const first = mp3Frame(frames[0] ?? Buffer.alloc(0), 0);
  if (!first) throw new Error('synth: no MP3 frames in the sample');
  const n = Math.max(1, Math.round((seconds * first.rate) / first.samples));
  return {
    bytes: Buffer.concat(Array.from({ length: n }, (_, i) => frames[i % frames.length]!)),
    seconds: (n * first.samples) / first.rate,
  };
}

/** A PCM WAV made from `sample`'s format and samples, lasting `seconds` (to the nearest sample frame). */
export function wavOfDuration(sample: Buffer, seconds: number): Buffer {
  if (sample.toString('latin1', 0, 4) !== 'RIFF' || sample.toString('latin1', 8, 12) !== 'WAVE')
    throw new Error('synth: not a WAV sample');
  let fmt: Buffer | undefined;
  let data: Buffer | undefined;
  for (let p = 12; p + 8 <= sample.length; ) {
    const id = sample.toString('latin1', p, p + 4);
    const size = sample.readUInt32LE(p + 4);
    if (id === 'fmt ') fmt = sample.subarray(p + 8, p + 8 + 16);
    if (id === 'data') data = sample.subarray(p + 8, Math.min(sample.length, p + 8 + size));
    p += 8 + size + (size & 1);
  }
  if (!fmt || !data) throw new Error('synth: WAV sample without fmt or data');
  const blockAlign = fmt.readUInt16LE(12);
  const rate = fmt.readUInt32LE(4);
  const pcm = Buffer.alloc(Math.max(1, Math.round(seconds * rate)) * blockAlign);
  for (let at = 0; at < pcm.length; at += data.length) data.copy(pcm, at, 0, Math.min(data.length, pcm.length - at));
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + pcm.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  fmt.copy(header, 20);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(pcm.length, 40);
  return Buffer.concat([header, pcm]);
}
