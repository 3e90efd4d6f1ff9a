/**
 * Server ports a stream protocol claims connections on: one byte per port, so the check in
 * claim() is an array read (no hashing, no allocation). Ports come validated (0..65535) from the
 * CLI or config file.
 */
export class PortSet {
  readonly #marked = new Uint8Array(65536);

  constructor(ports: readonly number[]) {
    for (const port of ports) this.#marked[port] = 1;
  }

  has(port: number): boolean {
    return this.#marked[port] === 1;
  }
}
