import { describe, expect, it } from 'vitest';
import { WireError } from '../../src/wire/errors.js';
import {
  buildEthernet,
  emitEthernet,
  ETH_HEADER_LEN,
  ETH_VLAN_HEADER_LEN,
  ethernetHeaderLen,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  MAC_BROADCAST,
  macToString,
  parseEthernet,
  parseMac,
} from '../../src/wire/ethernet.js';

const A = parseMac('02:dd:00:00:00:01');
const B = parseMac('02:dd:00:00:00:02');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof WireError) return e.code;
    throw e;
  }
  return undefined;
}

describe('Ethernet II', () => {
  it('parses an untagged frame into views of the same memory', () => {
    const frame = buildEthernet({ dst: B, src: A, ethertype: ETHERTYPE_IPV4 }, Buffer.from('hello'));
    expect(frame.length).toBe(ETH_HEADER_LEN + 5);
    const eth = parseEthernet(frame);
    expect(macToString(eth.dst)).toBe('02:dd:00:00:00:02');
    expect(macToString(eth.src)).toBe('02:dd:00:00:00:01');
    expect(eth.ethertype).toBe(ETHERTYPE_IPV4);
    expect(eth.vlan).toBeUndefined();
    expect(eth.headerLen).toBe(14);
    expect(eth.payload.toString()).toBe('hello');
    frame[ETH_HEADER_LEN] = 0x4a; // 'J'
    expect(eth.payload.toString()).toBe('Jello');
  });

  it('parses one 802.1Q tag: VLAN id, priority, DEI and the inner EtherType', () => {
    const frame = Buffer.from('ffffffffffff02dd00000001' + '8100' + 'b07b' + '0806' + 'abcd', 'hex');
    const eth = parseEthernet(frame);
    expect(eth.vlan).toBe(0x07b);
    expect(eth.vlanPcp).toBe(5);
    expect(eth.vlanDei).toBe(true);
    expect(eth.ethertype).toBe(ETHERTYPE_ARP);
    expect(eth.headerLen).toBe(ETH_VLAN_HEADER_LEN);
    expect(eth.payload.toString('hex')).toBe('abcd');
  });

  it('round-trips untagged and tagged headers byte for byte', () => {
    const cases = [
      { dst: MAC_BROADCAST, src: A, ethertype: ETHERTYPE_ARP },
      { dst: B, src: A, ethertype: 0x88cc },
      { dst: B, src: A, ethertype: ETHERTYPE_IPV4, vlan: 0 },
      { dst: B, src: A, ethertype: ETHERTYPE_IPV4, vlan: 4095, vlanPcp: 7, vlanDei: true },
      { dst: A, src: B, ethertype: ETHERTYPE_IPV4, vlan: 100, vlanPcp: 3 },
    ];
    for (const hdr of cases) {
      const first = buildEthernet(hdr, Buffer.from([1, 2, 3]));
      const parsed = parseEthernet(first);
      const second = buildEthernet(parsed, parsed.payload);
      expect(second.equals(first)).toBe(true);
      expect(parsed.vlan).toBe(hdr.vlan);
      expect(ethernetHeaderLen(parsed)).toBe(parsed.headerLen);
    }
    const tagged = buildEthernet({ dst: B, src: A, ethertype: ETHERTYPE_IPV4, vlan: 5 }, Buffer.alloc(0));
    expect(tagged.readUInt16BE(12)).toBe(ETHERTYPE_VLAN);
    expect(tagged.readUInt16BE(16)).toBe(ETHERTYPE_IPV4);
  });

  it('writes the header at an offset and returns where the payload goes', () => {
    const out = Buffer.alloc(40, 0xee);
    expect(emitEthernet({ dst: B, src: A, ethertype: ETHERTYPE_IPV4 }, out, 4)).toBe(18);
    expect(out[3]).toBe(0xee);
    expect(out.subarray(4, 10).equals(B)).toBe(true);
    expect(out[18]).toBe(0xee);
  });

  it('reports every truncated header as TRUNCATED', () => {
    const untagged = buildEthernet({ dst: B, src: A, ethertype: ETHERTYPE_IPV4 }, Buffer.alloc(0));
    for (let len = 0; len < ETH_HEADER_LEN; len++) expect(codeOf(() => parseEthernet(untagged.subarray(0, len)))).toBe('TRUNCATED');
    expect(parseEthernet(untagged).payload.length).toBe(0);
    const tagged = buildEthernet({ dst: B, src: A, ethertype: ETHERTYPE_IPV4, vlan: 9 }, Buffer.alloc(0));
    for (let len = 0; len < ETH_VLAN_HEADER_LEN; len++) expect(codeOf(() => parseEthernet(tagged.subarray(0, len)))).toBe('TRUNCATED');
  });

  it('refuses to emit bad MACs, VLAN ids and EtherTypes', () => {
    const out = Buffer.alloc(64);
    expect(codeOf(() => emitEthernet({ dst: Buffer.alloc(5), src: A, ethertype: 0x800 }, out))).toBe('BAD_FIELD');
    expect(codeOf(() => emitEthernet({ dst: B, src: A, ethertype: 0x800, vlan: 4096 }, out))).toBe('BAD_FIELD');
    expect(codeOf(() => emitEthernet({ dst: B, src: A, ethertype: 0x800, vlan: 1, vlanPcp: 8 }, out))).toBe('BAD_FIELD');
    expect(codeOf(() => emitEthernet({ dst: B, src: A, ethertype: 0x10000 }, out))).toBe('BAD_FIELD');
    expect(codeOf(() => emitEthernet({ dst: B, src: A, ethertype: 0x800 }, Buffer.alloc(13)))).toBe('TRUNCATED');
  });

  it('parses and formats MAC addresses', () => {
    expect(parseMac('AA-bb-0c-d-ee-ff').toString('hex')).toBe('aabb0c0deeff');
    expect(macToString(Buffer.from('0001020a0b0c', 'hex'))).toBe('00:01:02:0a:0b:0c');
    for (const bad of ['', '00:11:22:33:44', '00:11:22:33:44:55:66', 'zz:11:22:33:44:55', '001:11:22:33:44:55']) {
      expect(codeOf(() => parseMac(bad)), bad).toBe('BAD_FIELD');
    }
  });
});
