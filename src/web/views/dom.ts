/** Small DOM helpers the views share. */

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

/** A table of rows under a header row; cells are text or nodes. */
export function table(header: readonly string[], rows: readonly (readonly (string | number | Node)[])[], attrs: Record<string, string> = {}): HTMLTableElement {
  return el(
    'table',
    attrs,
    el('thead', {}, el('tr', {}, ...header.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((row) => el('tr', {}, ...row.map((cell) => el('td', {}, cell instanceof Node ? cell : String(cell)))))),
  );
}

/** A bar filled to `fraction` (0..1). */
export function bar(fraction: number): HTMLElement {
  const inner = el('i');
  inner.style.width = `${Math.round(Math.max(0, Math.min(1, fraction)) * 100)}%`;
  return el('span', { class: 'bar' }, inner);
}
