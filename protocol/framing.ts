/**
 * Splits a TCP byte stream into frames: a 4-byte big-endian length, then that many bytes. A length above the
 * maximum is refused as soon as its 4 bytes arrive, before any of the body is read or buffered.
 */
export type FrameHandler = (payload: Buffer) => void;

/**
 * The splitting, for a subclass that takes each frame in onFrame. The server's connection is one: it then needs no
 * reader object and no closure of its own, which counts when it holds thousands of them. A frame is given as where
 * its payload lies in a chunk, not as a view of it: the server decodes it there, without a Buffer object per frame.
 */
export abstract class FrameSplitter {
  /** Chunks of an incomplete frame, concatenated once when the whole frame is there; none between frames. */
  private parts: Buffer[] | undefined;
  private partsLen = 0;
  private failed = false;

  constructor(private readonly maxFrame: number) {}

  /** A frame's payload is `data` from `start` to `end`. */
  protected abstract onFrame(data: Buffer, start: number, end: number): void;

  /**
   * Feeds bytes; calls onFrame for each complete frame, in order. Returns the refused length when a frame is too
   * large (the stream cannot be read further after that), otherwise undefined.
   */
  push(chunk: Buffer): number | undefined {
    if (this.failed) return undefined;
    let buf = chunk;
    if (this.parts !== undefined) {
      this.parts.push(chunk);
      this.partsLen += chunk.length;
      // Wait until the pending frame is complete, so a large frame is concatenated once, not once per chunk.
      if (this.partsLen < 4) return undefined;
      if (this.parts[0]!.length < 4) this.parts = [Buffer.concat(this.parts)];
      const need = 4 + this.parts[0]!.readUInt32BE(0);
      if (need - 4 > this.maxFrame) return this.fail(need - 4);
      if (this.partsLen < need) return undefined;
      buf = Buffer.concat(this.parts, this.partsLen);
      this.parts = undefined;
      this.partsLen = 0;
    }
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off);
      if (len > this.maxFrame) return this.fail(len);
      if (buf.length - off - 4 < len) break;
      this.onFrame(buf, off + 4, off + 4 + len);
      if (this.failed) return undefined; // the handler closed the stream
      off += 4 + len;
    }
    if (off < buf.length) {
      this.parts = [buf.subarray(off)];
      this.partsLen = buf.length - off;
    }
    return undefined;
  }

  /** Stops reading: nothing after this is parsed. */
  stop(): void {
    this.failed = true;
    this.parts = undefined;
    this.partsLen = 0;
  }

  private fail(len: number): number {
    this.stop();
    return len;
  }
}

/**
 * A FrameSplitter that hands each frame to a callback as where its payload lies in the chunk (`data` from `start` to
 * `end`): for a reader that decodes it there, without a Buffer view per frame.
 */
export class FrameSpanReader extends FrameSplitter {
  constructor(
    maxFrame: number,
    private readonly handler: (data: Buffer, start: number, end: number) => void,
  ) {
    super(maxFrame);
  }

  protected override onFrame(data: Buffer, start: number, end: number): void {
    this.handler(data, start, end);
  }
}

/** A FrameSplitter that hands each frame's payload to a callback as a Buffer of its own. */
export class FrameReader extends FrameSpanReader {
  constructor(maxFrame: number, handler: FrameHandler) {
    super(maxFrame, (data, start, end) => handler(data.subarray(start, end)));
  }
}
