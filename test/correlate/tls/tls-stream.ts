/**
 * Hand-built TLS handshakes over real TCP framing for the hostile tests: ClientHello and
 * ServerHello messages (RFC 8446 4.1.2-4.1.3), records, and TCP connections written to a pcap
 * by the hostile suite's PcapStreamWriter (1 µs apart), then replayed through the real reader,
 * decoder, reassembly and correlator.
 */
import { kTcpFlags, type PcapStreamWriter } from '../../hostile/pcap-stream-writer.ts';

function u16(value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
}

function extension(type: number, body: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(body.length), body]);
}

function handshake(type: number, body: Buffer, declaredLength = body.length): Buffer {
  const header = Buffer.from([
    type,
    (declaredLength >> 16) & 0xff,
    (declaredLength >> 8) & 0xff,
    declaredLength & 0xff,
  ]);
  return Buffer.concat([header, body]);
}

export interface ClientHelloSpec {
  sni?: string;
  alpn?: string[];
  versions?: number[];
  /** Extra empty extensions (type 0xff00 + i) after the others. */
  padding?: number;
}

export function clientHello(spec: ClientHelloSpec): Buffer {
  const extensions: Buffer[] = [];
  if (spec.sni !== undefined) {
    const name = Buffer.from(spec.sni, 'latin1');
    extensions.push(
      extension(0, Buffer.concat([u16(name.length + 3), Buffer.from([0]), u16(name.length), name])),
    );
  }
  if (spec.alpn !== undefined) {
    const list = Buffer.concat(
      spec.alpn.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])),
    );
    extensions.push(extension(16, Buffer.concat([u16(list.length), list])));
  }
  if (spec.versions !== undefined) {
    extensions.push(
      extension(43, Buffer.concat([Buffer.from([spec.versions.length * 2]), ...spec.versions.map(u16)])),
    );
  }
  for (let i = 0; i < (spec.padding ?? 0); i++)
    extensions.push(extension(0xff00 + (i % 0xff), Buffer.alloc(0)));
  const all = Buffer.concat(extensions);
  const body = Buffer.concat([
    u16(0x0303),
    Buffer.alloc(32, 7),
    Buffer.from([0]),
    u16(4),
    u16(0x1301),
    u16(0xc02f),
    Buffer.from([1, 0]),
    u16(all.length),
    all,
  ]);
  return handshake(1, body);
}

/** A ServerHello selecting `cipher`; TLS 1.3 (supported_versions) unless `version` is 0x0303. */
export function serverHello(cipher = 0x1301, version = 0x0304, random = Buffer.alloc(32, 9)): Buffer {
  const extensions = version === 0x0304 ? extension(43, u16(0x0304)) : Buffer.alloc(0);
  const body = Buffer.concat([
    u16(0x0303),
    random,
    Buffer.from([0]),
    u16(cipher),
    Buffer.from([0]),
    u16(extensions.length),
    extensions,
  ]);
  return handshake(2, body);
}

/** A handshake message whose header declares `declaredLength` bytes (only `body` follow). */
export function declaredHandshake(type: number, body: Buffer, declaredLength: number): Buffer {
  return handshake(type, body, declaredLength);
}

/** `message` split into records of at most `maxRecord` bytes of content type `type`. */
export function records(type: number, message: Buffer, maxRecord = 16384): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < message.length; at += maxRecord) {
    const chunk = message.subarray(at, at + maxRecord);
    parts.push(Buffer.from([type, 3, 3, chunk.length >> 8, chunk.length & 0xff]), chunk);
  }
  return Buffer.concat(parts);
}

/** One TCP connection (three-way handshake on creation) with segments of at most 1448 bytes. */
export class TcpConversation {
  readonly #w: PcapStreamWriter;
  readonly #client: number;
  readonly #port: number;
  readonly #server: number;
  readonly #serverPort: number;
  #clientSeq = 1000;
  #serverSeq = 5000;

  constructor(w: PcapStreamWriter, client: number, port: number, server = 0x0a000002, serverPort = 443) {
    this.#w = w;
    this.#client = client;
    this.#port = port;
    this.#server = server;
    this.#serverPort = serverPort;
    w.tcp(client, port, server, serverPort, this.#clientSeq++, 0, kTcpFlags.syn);
    w.tcp(
      server,
      serverPort,
      client,
      port,
      this.#serverSeq++,
      this.#clientSeq,
      kTcpFlags.syn | kTcpFlags.ack,
    );
    w.tcp(client, port, server, serverPort, this.#clientSeq, this.#serverSeq, kTcpFlags.ack);
  }

  send(fromClient: boolean, bytes: Buffer, segment = 1448): void {
    for (let at = 0; at < bytes.length; at += segment) {
      const chunk = bytes.subarray(at, at + segment);
      if (fromClient) {
        this.#w.tcp(
          this.#client,
          this.#port,
          this.#server,
          this.#serverPort,
          this.#clientSeq,
          this.#serverSeq,
          kTcpFlags.ack | kTcpFlags.psh,
          chunk,
        );
        this.#clientSeq += chunk.length;
      } else {
        this.#w.tcp(
          this.#server,
          this.#serverPort,
          this.#client,
          this.#port,
          this.#serverSeq,
          this.#clientSeq,
          kTcpFlags.ack | kTcpFlags.psh,
          chunk,
        );
        this.#serverSeq += chunk.length;
      }
    }
  }

  /** The server resets the connection. */
  reset(): void {
    this.#w.tcp(
      this.#server,
      this.#serverPort,
      this.#client,
      this.#port,
      this.#serverSeq,
      this.#clientSeq,
      kTcpFlags.rst | kTcpFlags.ack,
    );
  }
}
