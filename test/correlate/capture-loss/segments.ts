/** Cuts TCP data segments out of a real capture, remembering exactly what was cut (the truth). */
import { decodePacket } from '../../../agent/decode/decoder.ts';
import { DecodedPacket, IpProtocol, TcpFlag } from '../../../agent/decode/packet.ts';
import { SkipCounters } from '../../../agent/shared/skips.ts';
import type { OwnedRecord } from '../../helpers/pcap-writer.ts';

export interface SegmentInfo {
  record: OwnedRecord;
  /** Client-independent connection name: "lowPort-highPort". */
  connection: string;
  /** Payload bytes on the wire (the snaplen may have cut the captured ones). */
  bytes: number;
  fin: boolean;
  seconds: number;
  nanos: number;
}

/** The TCP records of a capture with their payload sizes. */
export function tcpSegments(records: readonly OwnedRecord[]): SegmentInfo[] {
  const packet = new DecodedPacket();
  const skips = new SkipCounters();
  const out: SegmentInfo[] = [];
  for (const record of records) {
    if (!decodePacket(record.bytes, 0, record.bytes.length, record.linkType, packet, skips)) continue;
    if (packet.ipProtocol !== IpProtocol.Tcp) continue;
    // From the IP length: the snaplen cut the captured payload, not the sent one.
    const wire = Math.max(packet.payloadWireLength, packet.payloadLength);
    const low = Math.min(packet.srcPort, packet.dstPort);
    const high = Math.max(packet.srcPort, packet.dstPort);
    out.push({
      record,
      connection: `${low}-${high}`,
      bytes: wire,
      fin: (packet.tcpFlags & TcpFlag.Fin) !== 0,
      seconds: record.seconds,
      nanos: record.nanos,
    });
  }
  return out;
}

export interface Cut {
  kept: OwnedRecord[];
  removed: SegmentInfo[];
  dataSegments: number;
  dataBytes: number;
}

/** Keeps every record except the data segments `drop` picks (called once per data segment, in order). */
export function cutSegments(
  segments: readonly SegmentInfo[],
  drop: (segment: SegmentInfo, dataIndex: number) => boolean,
): Cut {
  const kept: OwnedRecord[] = [];
  const removed: SegmentInfo[] = [];
  let dataSegments = 0;
  let dataBytes = 0;
  for (const segment of segments) {
    if (segment.bytes > 0) {
      const index = dataSegments++;
      dataBytes += segment.bytes;
      if (drop(segment, index)) {
        removed.push(segment);
        continue;
      }
    }
    kept.push(segment.record);
  }
  return { kept, removed, dataSegments, dataBytes };
}
