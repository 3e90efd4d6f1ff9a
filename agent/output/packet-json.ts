/**
 * `replay --packets`: one JSON line per capture record (so line count = packet count), with
 * what the decoder found, or the layer and reason where it stopped. A debugging view, not a
 * hot path: building an object per packet is acceptable here.
 */
import type { CaptureRecord } from '../capture/record.ts';
import { formatIp, linkTypeName, tcpFlagsText } from '../decode/format.ts';
import { type DecodedPacket, IpProtocol, ipProtocolName, Layer, LayerNames } from '../decode/packet.ts';
import { skipReasonName } from '../shared/skips.ts';
import { formatTimestamp } from './time.ts';

export function packetToJson(file: string, record: CaptureRecord, packet: DecodedPacket): string {
  const line: Record<string, unknown> = {
    file,
    packet: record.packetNumber,
    time: formatTimestamp(record.seconds, record.nanos),
    link_type: linkTypeName(record.linkType),
    caplen: record.capturedLength,
    len: record.originalLength,
    decoded: packet.stopLayer === Layer.Complete,
  };
  if (packet.stopLayer !== Layer.Complete) {
    line.stop_layer = LayerNames[packet.stopLayer];
    line.reason = skipReasonName(packet.stopReason);
  }
  if (packet.vlanId >= 0) line.vlan = packet.vlanId;
  if (packet.ipVersion !== 0) {
    line.ip_version = packet.ipVersion;
    line.src = formatIp(packet.ipVersion, packet.src0, packet.src1, packet.src2, packet.src3);
    line.dst = formatIp(packet.ipVersion, packet.dst0, packet.dst1, packet.dst2, packet.dst3);
    if (packet.isFragment) line.fragment = true;
  }
  if (packet.stopLayer === Layer.Complete) {
    const tcp = packet.ipProtocol === IpProtocol.Tcp;
    line.transport = ipProtocolName(packet.ipProtocol);
    line.src_port = packet.srcPort;
    line.dst_port = packet.dstPort;
    if (tcp) {
      line.tcp_flags = tcpFlagsText(packet.tcpFlags);
      line.seq = packet.tcpSeq;
      line.ack = packet.tcpAck;
    }
    line.payload_length = packet.payloadLength;
    if (packet.payloadWireLength !== packet.payloadLength)
      line.payload_wire_length = packet.payloadWireLength;
  }
  return JSON.stringify(line);
}
