/**
 * Drives real HTTP/2 and gRPC traffic on loopback for make-http2-captures.sh: a Node `http2`
 * server and client (h2c with prior knowledge), then a `@grpc/grpc-js` server and client, and
 * writes what each client sent (and got) as JSON: the capture's ground truth next to tshark's.
 *
 *   node test/tools/make-http2-captures.ts h2c|grpc PORT OUT.json
 */
import fs from 'node:fs';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';

const [mode, portText, outFile] = process.argv.slice(2);
const port = Number(portText);
if ((mode !== 'h2c' && mode !== 'grpc') || !(port > 0) || !outFile) {
  console.error('usage: make-http2-captures.ts h2c|grpc PORT OUT.json');
  process.exit(2);
}

interface H2Call {
  method: string;
  path: string;
  requestBodyBytes: number;
  /** The response status, or null when the client cancelled the stream (RST_STREAM CANCEL). */
  status: number | null;
  responseBodyBytes: number;
  padded: boolean;
}

interface GrpcCall {
  kind: 'unary' | 'server_stream' | 'client_stream' | 'bidi';
  path: string;
  requestMessages: number[];
  responseMessages: number[];
  statusCode: number;
}

const kBigBody = 17_000; // crosses the default 16,384-byte frame size
/** A header value over one 16,384-byte frame even after HPACK (Huffman codes '|' in 11 bits: sent raw): HEADERS + CONTINUATION. */
const kBigHeader = 17_000;
const kBigHeaderValue = '|'.repeat(kBigHeader);

async function h2c(): Promise<H2Call[]> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('error', () => {});
    stream.on('end', () => {
      if (path.startsWith('/never')) return; // the client cancels it
      if (path.startsWith('/missing')) {
        stream.respond({ ':status': 404, 'content-type': 'text/plain' });
        stream.end('not here');
      } else if (path.startsWith('/big-headers')) {
        stream.respond({ ':status': 200, 'x-big': kBigHeaderValue });
        stream.end('ok');
      } else if (path.startsWith('/big')) {
        stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' });
        stream.end(Buffer.alloc(kBigBody, 7));
      } else if (path.startsWith('/echo')) {
        stream.respond({ ':status': 201 });
        stream.end(Buffer.concat(chunks));
      } else {
        stream.respond({ ':status': 200, 'content-type': 'text/plain' });
        stream.end(`hello ${path}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const calls: H2Call[] = [];

  async function session(padded: boolean, run: (client: http2.ClientHttp2Session) => Promise<void>) {
    const client = http2.connect(`http://127.0.0.1:${port}`, {
      paddingStrategy: padded ? http2.constants.PADDING_STRATEGY_MAX : http2.constants.PADDING_STRATEGY_NONE,
    });
    await run(client);
    await new Promise<void>((resolve) => client.close(resolve));
  }

  function request(
    client: http2.ClientHttp2Session,
    method: string,
    path: string,
    body: Buffer | null,
    padded: boolean,
    extra: http2.OutgoingHttpHeaders = {},
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const stream = client.request(
        { ':method': method, ':path': path, ...extra },
        { endStream: body === null },
      );
      const call: H2Call = {
        method,
        path,
        requestBodyBytes: body?.length ?? 0,
        status: null,
        responseBodyBytes: 0,
        padded,
      };
      calls.push(call);
      stream.on('response', (headers) => {
        call.status = Number(headers[':status']);
      });
      stream.on('data', (chunk: Buffer) => {
        call.responseBodyBytes += chunk.length;
      });
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
      if (body !== null) stream.end(body);
    });
  }

  // Many concurrent streams on one connection, interleaved big and small responses.
  await session(false, async (client) => {
    const all: Promise<void>[] = [];
    for (let i = 0; i < 24; i++) {
      const path = i === 0 ? `/big/${i}` : i % 6 === 1 ? `/missing/${i}` : `/small/${i}`;
      all.push(request(client, 'GET', path, null, false));
    }
    all.push(request(client, 'POST', '/echo/1', Buffer.alloc(kBigBody, 1), false));
    await Promise.all(all);
    // Big request and response headers: CONTINUATION frames both ways.
    await request(client, 'GET', '/big-headers', null, false, { 'x-big-request': kBigHeaderValue });
    // A stream the client gives up on: RST_STREAM(CANCEL), no response.
    await new Promise<void>((resolve) => {
      const stream = client.request({ ':method': 'GET', ':path': '/never' });
      calls.push({
        method: 'GET',
        path: '/never',
        requestBodyBytes: 0,
        status: null,
        responseBodyBytes: 0,
        padded: false,
      });
      stream.on('error', () => {});
      stream.on('close', resolve);
      setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 50);
    });
  });
  // A second connection whose frames are padded (PADDING_STRATEGY_MAX).
  await session(true, async (client) => {
    await Promise.all([
      request(client, 'GET', '/small/padded', null, true),
      request(client, 'POST', '/echo/padded', Buffer.from('padded body'), true),
    ]);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return calls;
}

async function grpcCalls(): Promise<GrpcCall[]> {
  const serialize = (value: Buffer) => value;
  const deserialize = (bytes: Buffer) => bytes;
  const method = (path: string, requestStream: boolean, responseStream: boolean) => ({
    path,
    requestStream,
    responseStream,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  });
  const service = {
    Unary: method('/demo.Echo/Unary', false, false),
    Fail: method('/demo.Echo/Fail', false, false),
    List: method('/demo.Echo/List', false, true),
    Upload: method('/demo.Echo/Upload', true, false),
    Chat: method('/demo.Echo/Chat', true, true),
  };
  const server = new grpc.Server();
  server.addService(service as unknown as grpc.ServiceDefinition, {
    Unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) =>
      done(null, Buffer.concat([Buffer.from('echo:'), call.request])),
    Fail: (call: grpc.ServerUnaryCall<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) =>
      done({
        code: call.request.length > 3 ? grpc.status.INVALID_ARGUMENT : grpc.status.NOT_FOUND,
        details: 'no such thing',
      }),
    List: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 0; i < 3; i++) call.write(Buffer.alloc(10 + i, 65 + i));
      // A server-streaming call that ends in an error after its messages.
      if (call.request.toString() === 'fail')
        call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'gone' });
      else call.end();
    },
    Upload: (call: grpc.ServerReadableStream<Buffer, Buffer>, done: grpc.sendUnaryData<Buffer>) => {
      let total = 0;
      call.on('data', (chunk: Buffer) => {
        total += chunk.length;
      });
      call.on('end', () => done(null, Buffer.from(String(total))));
    },
    Chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (chunk: Buffer) => call.write(Buffer.concat([Buffer.from('re:'), chunk])));
      call.on('end', () => call.end());
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const calls: GrpcCall[] = [];

  function unary(path: string, message: Buffer): Promise<void> {
    const call: GrpcCall = {
      kind: 'unary',
      path,
      requestMessages: [message.length],
      responseMessages: [],
      statusCode: -1,
    };
    calls.push(call);
    return new Promise((resolve) => {
      client.makeUnaryRequest(path, serialize, deserialize, message, (error, value) => {
        if (value) call.responseMessages.push(value.length);
        call.statusCode = error ? error.code : 0;
        resolve();
      });
    });
  }

  function serverStream(message: Buffer): Promise<void> {
    const path = '/demo.Echo/List';
    const call: GrpcCall = {
      kind: 'server_stream',
      path,
      requestMessages: [message.length],
      responseMessages: [],
      statusCode: -1,
    };
    calls.push(call);
    return new Promise((resolve) => {
      const stream = client.makeServerStreamRequest(path, serialize, deserialize, message);
      stream.on('data', (value: Buffer) => call.responseMessages.push(value.length));
      stream.on('error', () => {});
      stream.on('status', (status: grpc.StatusObject) => {
        call.statusCode = status.code;
        resolve();
      });
    });
  }

  function clientStream(messages: Buffer[]): Promise<void> {
    const path = '/demo.Echo/Upload';
    const call: GrpcCall = {
      kind: 'client_stream',
      path,
      requestMessages: messages.map((m) => m.length),
      responseMessages: [],
      statusCode: -1,
    };
    calls.push(call);
    return new Promise((resolve) => {
      const stream = client.makeClientStreamRequest(path, serialize, deserialize, (error, value) => {
        if (value) call.responseMessages.push(value.length);
        call.statusCode = error ? error.code : 0;
        resolve();
      });
      for (const message of messages) stream.write(message);
      stream.end();
    });
  }

  function bidi(messages: Buffer[]): Promise<void> {
    const path = '/demo.Echo/Chat';
    const call: GrpcCall = {
      kind: 'bidi',
      path,
      requestMessages: messages.map((m) => m.length),
      responseMessages: [],
      statusCode: -1,
    };
    calls.push(call);
    return new Promise((resolve) => {
      const stream = client.makeBidiStreamRequest(path, serialize, deserialize);
      stream.on('data', (value: Buffer) => call.responseMessages.push(value.length));
      stream.on('status', (status: grpc.StatusObject) => {
        call.statusCode = status.code;
        resolve();
      });
      for (const message of messages) stream.write(message);
      stream.end();
    });
  }

  await unary('/demo.Echo/Unary', Buffer.from('hi'));
  await Promise.all([
    unary('/demo.Echo/Unary', Buffer.alloc(kBigBody, 2)), // one message across DATA frames
    unary('/demo.Echo/Fail', Buffer.from('abc')), // Trailers-Only NOT_FOUND
    unary('/demo.Echo/Fail', Buffer.from('abcdef')), // INVALID_ARGUMENT
    serverStream(Buffer.from('ok')),
    serverStream(Buffer.from('fail')),
    clientStream([Buffer.from('a'), Buffer.from('bb'), Buffer.from('ccc'), Buffer.from('dddd')]),
    bidi([Buffer.from('x'), Buffer.from('yy')]),
  ]);
  await unary('/demo.Nope/Missing', Buffer.from('?')); // UNIMPLEMENTED
  client.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  return calls;
}

const calls = mode === 'h2c' ? await h2c() : await grpcCalls();
fs.writeFileSync(outFile, `${JSON.stringify({ port, calls }, null, 1)}\n`);
