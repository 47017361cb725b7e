/**
 * A TCP proxy that forwards bytes unchanged between clients and the server and records every frame that crosses it
 * (its size on the wire, length prefix included, and what it is), so bytes per operation are measured on the
 * wire rather than computed from the codecs.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { FrameReader } from '../protocol/framing.js';
import { EVENT_BY_CODE, OP_BY_CODE } from '../protocol/ops.js';

export interface WireFrame {
  conn: number;
  dir: 'up' | 'down';
  /** Bytes on the wire: 4-byte length prefix + payload. */
  bytes: number;
  /** e.g. `req:send`, `res:send`, `err`, `evt:message`. */
  kind: string;
}

export class CountingProxy {
  readonly frames: WireFrame[] = [];
  private server: Server | undefined;
  private nextConn = 0;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  async listen(): Promise<number> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  close(): void {
    for (const s of this.sockets) s.destroy();
    this.server?.close();
  }

  private accept(client: Socket): void {
    const conn = this.nextConn++;
    const upstream = connect(this.port, this.host);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.sockets.add(client).add(upstream);
    /** Request ids to op names, to label JSON results (they don't name their op). */
    const ops = new Map<number, string>();
    const record = (dir: 'up' | 'down') => (p: Buffer) =>
      this.frames.push({ conn, dir, bytes: 4 + p.length, kind: classify(p, dir, ops) });
    const up = new FrameReader(1 << 30, record('up'));
    const down = new FrameReader(1 << 30, record('down'));
    client.on('data', (d: Buffer) => {
      up.push(d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      down.push(d);
      client.write(d);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }
}

function classify(p: Buffer, dir: 'up' | 'down', ops: Map<number, string>): string {
  if (p[0] === 0x7b) {
    const v = JSON.parse(p.toString('utf8')) as { id?: number; op?: string; event?: string; ok?: boolean };
    if (dir === 'up') {
      ops.set(v.id!, v.op!);
      return `req:${v.op}`;
    }
    if (v.event) return `evt:${v.event}`;
    return v.ok ? `res:${ops.get(v.id!) ?? '?'}` : 'err';
  }
  const t = p[0]!;
  if (dir === 'up') return `req:${OP_BY_CODE.get(t) ?? '?'}`;
  if (t >= 0x80) return `evt:${EVENT_BY_CODE.get(t & 0x7f) ?? '?'}`;
  if (t === 0x3f) return 'err';
  return `res:${OP_BY_CODE.get(t & 0x3f) ?? '?'}`;
}
