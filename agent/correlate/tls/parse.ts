/**
 * ClientHello and ServerHello fields (RFC 8446 4.1.2-4.1.3, RFC 5246 7.4.1): SNI, versions,
 * cipher suite, ALPN. Nothing is decrypted: only these two plaintext messages are read.
 *
 * Bounded: every loop advances by at least one length-prefixed item inside [start, end) of a
 * message whose size the caller capped, and the lists kept are capped at kMaxListed entries, so
 * a ClientHello with 10,000 extensions costs one linear pass and a few small strings.
 */

/** Entries kept of an offered list (versions, ALPN protocols); the rest are counted only. */
export const kMaxListed = 16;
/** SNI and ALPN names longer than this are cut (DNS names are at most 253 bytes). */
const kMaxNameBytes = 255;

const kExtServerName = 0;
const kExtAlpn = 16;
const kExtSupportedVersions = 43;
const kSniHostName = 0;

/** What a ClientHello or ServerHello says; reused per connection direction. */
export class HelloFields {
  /** legacy_version (0x0303 for TLS 1.2 and 1.3). */
  legacyVersion = 0;
  /** supported_versions: offered (ClientHello) or the one selected (ServerHello, one entry). */
  versions: number[] = [];
  /** Cipher suites offered (ClientHello: their count) / selected (ServerHello: the suite). */
  cipherSuites = 0;
  cipher = -1;
  serverName: string | null = null;
  alpn: string[] = [];
  extensions = 0;
  /** ServerHello: a TLS 1.3 HelloRetryRequest (its random is the RFC 8446 4.1.3 constant). */
  helloRetry = false;
}

/** SHA-256 of "HelloRetryRequest": the random of a HelloRetryRequest. */
const kHelloRetryRandom = Uint8Array.from(
  Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex'),
);

function isHelloRetryRandom(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 32; i++) if (b[at + i] !== kHelloRetryRandom[i]) return false;
  return true;
}

function u16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}

/** GREASE values (RFC 8701) are offered to keep servers honest, never negotiated: not listed. */
function isGrease(value: number): boolean {
  return (value & 0x0f0f) === 0x0a0a && value >> 8 === (value & 0xff);
}

function ascii(b: Uint8Array, start: number, length: number): string {
  const n = Math.min(length, kMaxNameBytes);
  let text = '';
  for (let i = 0; i < n; i++) {
    const c = b[start + i]!;
    text += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : '?';
  }
  return text;
}

/** Parses a ClientHello body (after the 4-byte handshake header). False when malformed. */
export function parseClientHello(b: Uint8Array, start: number, end: number, out: HelloFields): boolean {
  let pos = start;
  if (end - pos < 2 + 32 + 1) return false;
  out.legacyVersion = u16(b, pos);
  pos += 2 + 32; // random
  pos += 1 + b[pos]!; // legacy_session_id
  if (end - pos < 2) return false;
  const suitesLength = u16(b, pos);
  pos += 2;
  if (end - pos < suitesLength) return false;
  out.cipherSuites = suitesLength >> 1;
  pos += suitesLength;
  if (end - pos < 1) return false;
  pos += 1 + b[pos]!; // legacy_compression_methods
  if (pos > end) return false;
  return parseExtensions(b, pos, end, out, true);
}

/** Parses a ServerHello body (after the 4-byte handshake header). False when malformed. */
export function parseServerHello(b: Uint8Array, start: number, end: number, out: HelloFields): boolean {
  let pos = start;
  if (end - pos < 2 + 32 + 1) return false;
  out.legacyVersion = u16(b, pos);
  out.helloRetry = isHelloRetryRandom(b, pos + 2);
  pos += 2 + 32;
  pos += 1 + b[pos]!; // legacy_session_id_echo
  if (end - pos < 3) return false;
  out.cipher = u16(b, pos);
  pos += 3; // cipher_suite, legacy_compression_method
  return parseExtensions(b, pos, end, out, false);
}

function parseExtensions(
  b: Uint8Array,
  pos: number,
  end: number,
  out: HelloFields,
  client: boolean,
): boolean {
  if (pos === end) return true; // no extensions (SSL 3.0 / old TLS)
  if (end - pos < 2) return false;
  const extensionsEnd = pos + 2 + u16(b, pos);
  if (extensionsEnd > end) return false;
  pos += 2;
  while (extensionsEnd - pos >= 4) {
    const type = u16(b, pos);
    const length = u16(b, pos + 2);
    const body = pos + 4;
    if (extensionsEnd - body < length) return false;
    out.extensions++;
    if (type === kExtServerName && client) readServerName(b, body, body + length, out);
    else if (type === kExtAlpn) readAlpn(b, body, body + length, out);
    else if (type === kExtSupportedVersions) readVersions(b, body, body + length, out, client);
    pos = body + length;
  }
  return pos === extensionsEnd;
}

function readServerName(b: Uint8Array, pos: number, end: number, out: HelloFields): void {
  if (end - pos < 2) return;
  const listEnd = Math.min(end, pos + 2 + u16(b, pos));
  pos += 2;
  while (listEnd - pos >= 3) {
    const type = b[pos]!;
    const length = u16(b, pos + 1);
    pos += 3;
    if (listEnd - pos < length) return;
    if (type === kSniHostName && out.serverName === null) out.serverName = ascii(b, pos, length);
    pos += length;
  }
}

function readAlpn(b: Uint8Array, pos: number, end: number, out: HelloFields): void {
  if (end - pos < 2) return;
  const listEnd = Math.min(end, pos + 2 + u16(b, pos));
  pos += 2;
  while (listEnd - pos >= 1) {
    const length = b[pos]!;
    pos += 1;
    if (listEnd - pos < length) return;
    if (out.alpn.length < kMaxListed) out.alpn.push(ascii(b, pos, length));
    pos += length;
  }
}

function readVersions(b: Uint8Array, pos: number, end: number, out: HelloFields, client: boolean): void {
  if (!client) {
    if (end - pos >= 2) out.versions.push(u16(b, pos));
    return;
  }
  if (end - pos < 1) return;
  const listEnd = Math.min(end, pos + 1 + b[pos]!);
  for (pos += 1; listEnd - pos >= 2; pos += 2) {
    const version = u16(b, pos);
    if (!isGrease(version) && out.versions.length < kMaxListed) out.versions.push(version);
  }
}

/** "1.3", "1.2", "1.1", "1.0", "3.0" (SSL), else hex. */
export function versionName(version: number): string {
  if (version >= 0x0301 && version <= 0x0304) return `1.${version - 0x0301}`;
  if (version === 0x0300) return '3.0';
  return hex(version);
}

export function hex(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

/** IANA names of the suites seen in practice (TLS 1.3 and the common TLS 1.2 AEAD/CBC ones). */
const kCipherNames = new Map<number, string>([
  [0x1301, 'TLS_AES_128_GCM_SHA256'],
  [0x1302, 'TLS_AES_256_GCM_SHA384'],
  [0x1303, 'TLS_CHACHA20_POLY1305_SHA256'],
  [0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'],
  [0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384'],
  [0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'],
  [0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'],
  [0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA'],
  [0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA'],
  [0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA'],
  [0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'],
  [0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256'],
  [0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256'],
  [0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256'],
  [0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384'],
  [0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256'],
  [0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384'],
  [0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA'],
  [0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA'],
  [0x000a, 'TLS_RSA_WITH_3DES_EDE_CBC_SHA'],
]);

export function cipherName(suite: number): string {
  return kCipherNames.get(suite) ?? hex(suite);
}

/** Alert descriptions (RFC 8446 6, RFC 7301 for no_application_protocol). */
const kAlertNames = new Map<number, string>([
  [0, 'close_notify'],
  [10, 'unexpected_message'],
  [20, 'bad_record_mac'],
  [22, 'record_overflow'],
  [40, 'handshake_failure'],
  [42, 'bad_certificate'],
  [43, 'unsupported_certificate'],
  [44, 'certificate_revoked'],
  [45, 'certificate_expired'],
  [46, 'certificate_unknown'],
  [47, 'illegal_parameter'],
  [48, 'unknown_ca'],
  [49, 'access_denied'],
  [50, 'decode_error'],
  [51, 'decrypt_error'],
  [70, 'protocol_version'],
  [71, 'insufficient_security'],
  [80, 'internal_error'],
  [86, 'inappropriate_fallback'],
  [90, 'user_canceled'],
  [109, 'missing_extension'],
  [110, 'unsupported_extension'],
  [112, 'unrecognized_name'],
  [113, 'bad_certificate_status_response'],
  [115, 'unknown_psk_identity'],
  [116, 'certificate_required'],
  [120, 'no_application_protocol'],
]);

export function alertName(description: number): string {
  return kAlertNames.get(description) ?? String(description);
}
