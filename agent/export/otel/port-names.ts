/**
 * Span names made of a prefix and the server port ("UDP 9000", "TCP connect 80"), each string
 * made once instead of per pair: there are at most 65,536 ports, so the table stays bounded.
 */
export function spanNamesByPort(prefix: string): (port: number) => string {
  const names = new Map<number, string>();
  return (port) => {
    let name = names.get(port);
    if (name === undefined) {
      name = `${prefix} ${port}`;
      names.set(port, name);
    }
    return name;
  };
}

/** "UDP {port}": the generic UDP pairs' name, and the default of other UDP protocols. */
export const udpSpanName = spanNamesByPort('UDP');
/** "TCP {port}": the default name of TCP protocols without a mapping of their own. */
export const tcpSpanName = spanNamesByPort('TCP');
