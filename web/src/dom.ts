/** Small DOM helpers: elements are looked up once by data-testid, and text always goes in as text. */

export function byTestId<T extends HTMLElement>(testId: string, type: new () => T): T {
  const element = document.querySelector(`[data-testid="${testId}"]`);
  if (!(element instanceof type)) throw new Error(`The page has no ${type.name} [data-testid="${testId}"]`);
  return element;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

export function showMessage(element: HTMLElement, text: string | undefined): void {
  element.textContent = text ?? '';
  element.hidden = text === undefined;
}
