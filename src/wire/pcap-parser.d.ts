/**
 * Types for the `pcap-parser` package (CommonJS, no bundled types), version
 * 0.2.1: only what src/wire/pcap.ts uses. The parser reads classic pcap from
 * a path or a readable stream and reports through events.
 */
declare module 'pcap-parser' {
  import type { EventEmitter } from 'node:events';
  import type { Readable } from 'node:stream';

  interface GlobalHeader {
    magicNumber: number;
    majorVersion: number;
    minorVersion: number;
    gmtOffset: number;
    timestampAccuracy: number;
    snapshotLength: number;
    linkLayerType: number;
  }

  interface PacketHeader {
    timestampSeconds: number;
    /** Microseconds for the classic magic; the parser knows no other. */
    timestampMicroseconds: number;
    capturedLength: number;
    originalLength: number;
  }

  interface Packet {
    header: PacketHeader;
    /** A view into the parser's buffer, capturedLength bytes. */
    data: Buffer;
  }

  interface Parser extends EventEmitter {
    on(event: 'globalHeader', listener: (header: GlobalHeader) => void): this;
    on(event: 'packetHeader', listener: (header: PacketHeader) => void): this;
    on(event: 'packet', listener: (packet: Packet) => void): this;
    on(event: 'end', listener: () => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
  }

  interface PcapParserModule {
    /** Starts parsing on the next tick; the stream is paused first and resumed then. */
    parse(input: string | Readable): Parser;
  }

  const pcapParser: PcapParserModule;
  export = pcapParser;
}
