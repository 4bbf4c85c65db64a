/**
 * A strict little XML reader for the bench's SVG charts and report.html
 * (no dependency): elements, quoted attributes, text with the five predefined
 * entities, an XML declaration or an HTML doctype. Throws on anything not
 * well-formed (unclosed or crossed tags, a raw '<' or '&' in text, unquoted
 * or duplicate attributes, content after the root).
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

/** Parses `src` into its root element; throws at the first thing that is not well-formed. */
export function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`not well-formed at ${i}: ${why}`);
  };
  const decode = (t: string): string => {
    if (/&(?!(amp|lt|gt|quot|apos);)/.test(t)) fail(`bad entity in "${t}"`);
    return t.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  };
  if (src.startsWith('<?xml')) {
    i = src.indexOf('?>') + 2;
    if (i < 2) fail('unterminated declaration');
  }
  // An HTML page's doctype (report.html is written so that this reader takes it whole).
  const doctype = /^\s*<!DOCTYPE [A-Za-z]+>/.exec(src.slice(i));
  if (doctype !== null) i += doctype[0].length;
  const skipWs = (): void => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  const element = (): XmlElement => {
    if (src[i] !== '<') fail('expected <');
    i++;
    const nameM = /^[A-Za-z_][\w.:-]*/.exec(src.slice(i));
    if (nameM === null) fail('bad tag name');
    const name = nameM![0];
    i += name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      skipWs();
      if (src.startsWith('/>', i)) {
        i += 2;
        return { name, attrs, children: [], text: '' };
      }
      if (src[i] === '>') {
        i++;
        break;
      }
      const a = /^([A-Za-z_][\w.:-]*)="([^"<]*)"/.exec(src.slice(i));
      if (a === null) fail(`bad attribute in <${name}>`);
      if (a![1]! in attrs) fail(`duplicate attribute ${a![1]}`);
      attrs[a![1]!] = decode(a![2]!);
      i += a![0].length;
    }
    const el: XmlElement = { name, attrs, children: [], text: '' };
    for (;;) {
      const lt = src.indexOf('<', i);
      if (lt < 0) fail(`unclosed <${name}>`);
      el.text += decode(src.slice(i, lt));
      i = lt;
      if (src.startsWith('</', i)) {
        const close = new RegExp(`^</${name}\\s*>`).exec(src.slice(i));
        if (close === null) fail(`</...> does not close <${name}>`);
        i += close![0].length;
        return el;
      }
      el.children.push(element());
    }
  };
  skipWs();
  const root = element();
  skipWs();
  if (i !== src.length) fail('content after the root element');
  return root;
}

export function all(el: XmlElement, pred: (e: XmlElement) => boolean, out: XmlElement[] = []): XmlElement[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}

