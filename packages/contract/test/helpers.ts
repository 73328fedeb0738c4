// Paths shared by the contract package's tests.
import { fileURLToPath } from 'node:url';

export const fixtureSpecPath = fileURLToPath(new URL('./fixtures/mini-openapi.yaml', import.meta.url));
export const repoSpecPath = fileURLToPath(new URL('../../../openapi.yaml', import.meta.url));

/** A concrete path for a template: every `{param}` becomes `x`. */
export function concretePath(template: string): string {
  return template.replace(/\{[^}]+\}/g, 'x');
}
