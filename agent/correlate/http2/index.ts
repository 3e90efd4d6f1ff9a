/**
 * gRPC, and the HTTP/2 matcher that finds it. HTTP/2 is gRPC's transport: the matcher this
 * descriptor creates pairs every HTTP/2 stream from reassembled TCP streams, as an `http` pair
 * (version "2": HTTP's detail, span mapping, timeout and cap) or, for a gRPC call, a `grpc` pair
 * (this descriptor's span mapping, error rule, label and colour; --grpc-timeout). It sees no
 * packets itself: the correlator's TcpReassembly offers connections to `stream`, which claims
 * those whose client starts with the HTTP/2 preface or, for connections caught mid-way, whose
 * frames show which side is which (a request's or a response's HEADERS), on any port.
 */

import { StreamMatcher } from '../matcher.ts';
import type { ProtocolDescriptor } from '../protocol.ts';
import { grpcIsError, grpcWhat, kGrpcHistograms, mapGrpcSpan } from './grpc-span.ts';
import { type GrpcDetail, Http2StreamProtocol } from './matcher.ts';

export const grpcProtocol: ProtocolDescriptor<GrpcDetail> = {
  name: 'grpc',
  label: 'gRPC',
  color: '#882255',
  // No pending share of its own: HTTP/2 streams (gRPC calls included) are HTTP requests, capped
  // by maxPending.http (measured ~1 KiB per pending stream, well under HTTP's bytesPerEntry).
  enabled: () => true,
  create: (context) => new StreamMatcher(new Http2StreamProtocol(context)),
  spans: {
    histograms: kGrpcHistograms,
    create: () => ({ map: (_pair, detail, span) => mapGrpcSpan(detail, span) }),
  },
  report: { errorRule: 'gRPC status ≠ OK', isError: grpcIsError, what: grpcWhat },
};

export { Http2StreamProtocol } from './matcher.ts';
