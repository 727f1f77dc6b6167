// The subset of markdown that bench/lib/report.ts writes, as HTML: headings, pipe tables (cells may
// hold `\|`), "- " lists, a lone image line, paragraphs; inline **bold** and `code`.

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const inline = (s: string): string => esc(s).replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>').replace(/`([^`]+)`/g, '<code>$1</code>');
const cells = (line: string): string[] =>
  line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '').split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));

export function markdownToHtml(md: string): string {
  const lines = md.split('\n'), out: string[] = [];
  for (let i = 0; i < lines.length;) {
    const l = lines[i]!;
    const h = /^(#{1,6}) (.*)$/.exec(l);
    if (h) { out.push(`<h${h[1]!.length}>${inline(h[2]!)}</h${h[1]!.length}>`); i++; continue; }
    if (l.startsWith('|')) {
      const block: string[] = [];
      while (i < lines.length && lines[i]!.startsWith('|')) block.push(lines[i++]!);
      const body = /^\|[\s|:-]+\|$/.test(block[1] ?? '') ? block.slice(2) : block.slice(1);
      out.push('<table><thead><tr>', ...cells(block[0]!).map((c) => `<th>${inline(c)}</th>`), '</tr></thead><tbody>',
        ...body.map((r) => `<tr>${cells(r).map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`), '</tbody></table>');
      continue;
    }
    if (l.startsWith('- ')) {
      out.push('<ul>');
      while (i < lines.length && lines[i]!.startsWith('- ')) out.push(`<li>${inline(lines[i++]!.slice(2))}</li>`);
      out.push('</ul>');
      continue;
    }
    const img = /^!\[(.*)\]\((.*)\)$/.exec(l);
    if (img) { out.push(`<p><img alt="${esc(img[1]!)}" src="${esc(img[2]!)}"></p>`); i++; continue; }
    if (!l.trim()) { i++; continue; }
    const para = [lines[i++]!];
    while (i < lines.length && lines[i]!.trim() && !/^(#|\||- |!\[)/.test(lines[i]!)) para.push(lines[i++]!);
    out.push(`<p>${inline(para.join(' '))}</p>`);
  }
  return out.join('\n');
}
