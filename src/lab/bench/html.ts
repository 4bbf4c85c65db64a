/**
 * report.html: the bench's report.md as one self-contained page — its
 * headings, paragraphs, tables and command, with each chart's SVG inline
 * where report.md links the file. No script, no font, no stylesheet or image
 * fetched from anywhere: the page opens the same offline, mailed or attached
 * to a review. Written as XHTML-compatible markup (every element closed,
 * attributes quoted) so an XML parser reads it too.
 *
 * It renders exactly what benchMarkdown writes: '#'/'##' headings, fenced
 * code, pipe tables, '- ' lists, '![title](file.svg)' chart links, and
 * paragraphs with **bold** and `code`.
 */
import type { BenchChart } from './report.js';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Inline markup of a paragraph or cell: escaped text, **bold**, `code`. */
function inline(text: string): string {
  return escapeHtml(text)
    .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')
    .replace(/`([^`]+)`/g, '<code>$1</code>');
}

function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((c) => c.trim());
}

/** An SVG document as an element inside HTML: no XML declaration, no namespace attribute (HTML puts <svg> in it). */
export function inlineSvg(svg: string): string {
  return svg
    .replace(/^<\?xml[^>]*\?>\s*/, '')
    .replace(/\s+xmlns="[^"]*"/, '')
    .trim();
}

const STYLE = [
  'body{font-family:sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}',
  'table{border-collapse:collapse;margin:1em 0;font-size:13px}',
  'th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}',
  'th{background:#f2f2f2}',
  'td:first-child,th:first-child{text-align:left}',
  'pre{background:#f6f6f6;padding:8px;overflow-x:auto}',
  'figure{display:inline-block;margin:0.5em}',
  '.missing{fill-opacity:0.8}',
].join('\n');

/** report.html from report.md's text and the charts it links. */
export function benchHtml(markdown: string, charts: readonly BenchChart[]): string {
  const byFile = new Map(charts.map((c) => [c.file, c]));
  const lines = markdown.split('\n');
  const body: string[] = [];
  let title = 'ddplab bench';
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.startsWith('```')) {
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) code.push(lines[i]!);
      i++;
      body.push(`<pre><code>${escapeHtml(code.join('\n'))}</code></pre>`);
      continue;
    }
    const h = /^(#{1,6}) (.*)$/.exec(line);
    if (h !== null) {
      const level = h[1]!.length;
      if (level === 1) title = h[2]!;
      body.push(`<h${level}>${inline(h[2]!)}</h${level}>`);
      i++;
      continue;
    }
    if (line.startsWith('|')) {
      const rows: string[] = [];
      for (; i < lines.length && lines[i]!.startsWith('|'); i++) rows.push(lines[i]!);
      const [head, , ...rest] = rows;
      body.push('<table>');
      body.push(`<thead><tr>${cells(head!).map((c) => `<th>${inline(c)}</th>`).join('')}</tr></thead>`);
      body.push('<tbody>');
      for (const r of rest) body.push(`<tr>${cells(r).map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`);
      body.push('</tbody>');
      body.push('</table>');
      continue;
    }
    if (line.startsWith('- ')) {
      body.push('<ul>');
      for (; i < lines.length && lines[i]!.startsWith('- '); i++) body.push(`<li>${inline(lines[i]!.slice(2))}</li>`);
      body.push('</ul>');
      continue;
    }
    if (line.startsWith('![')) {
      body.push('<div class="charts">');
      for (; i < lines.length && lines[i]!.startsWith('!['); i++) {
        const m = /^!\[(.*)\]\((.*)\)$/.exec(lines[i]!);
        const chart = m !== null ? byFile.get(m[2]!) : undefined;
        // A link to a chart this page does not hold would be an external reference: its title stands instead.
        body.push(chart !== undefined ? `<figure>${inlineSvg(chart.svg)}</figure>` : `<p>${inline(m?.[1] ?? lines[i]!)} (chart not written)</p>`);
      }
      body.push('</div>');
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    const para: string[] = [];
    for (; i < lines.length && lines[i]!.trim() !== '' && !/^(#|\||```|- |!\[)/.test(lines[i]!); i++) para.push(lines[i]!);
    body.push(`<p>${inline(para.join(' '))}</p>`);
  }
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8"/>',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
