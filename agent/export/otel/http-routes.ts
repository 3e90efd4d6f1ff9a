/**
 * Configured HTTP route templates: `/users/{id}`-style patterns matched against a request's
 * path (query string already removed), giving a low-cardinality `http.route` (SERVER) or
 * `url.template` (CLIENT) and the span name `{method} {route}`.
 *
 * Pattern syntax (what the semantic conventions' examples use):
 * - `{name}` matches one non-empty path segment (no "/");
 * - a final `*` or `{name...}` matches the rest of the path, including "/" (and nothing);
 * - everything else matches literally and case-sensitively.
 * The first pattern that matches the whole path wins, in the order configured. Wire traffic has
 * no router: when no template matches, the path templated by http-route-heuristics.ts is the
 * route, or (heuristics off) the span is named `{method}` only.
 */

interface CompiledRoute {
  template: string;
  regex: RegExp;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function compile(template: string, option: string): RegExp {
  if (typeof template !== 'string' || !template.startsWith('/')) {
    throw new Error(`${option}: route template ${JSON.stringify(template)} must start with "/"`);
  }
  let source = '^';
  let rest = template;
  while (rest.length > 0) {
    const brace = rest.indexOf('{');
    const star = rest.indexOf('*');
    const next = brace < 0 ? star : star < 0 ? brace : Math.min(brace, star);
    if (next < 0) {
      source += escapeRegex(rest);
      break;
    }
    source += escapeRegex(rest.slice(0, next));
    if (rest[next] === '*') {
      if (next !== rest.length - 1) {
        throw new Error(`${option}: route template "${template}": "*" is only allowed at the end`);
      }
      source += '.*';
      break;
    }
    const close = rest.indexOf('}', next);
    if (close < 0) throw new Error(`${option}: route template "${template}": "{" without "}"`);
    const name = rest.slice(next + 1, close);
    if (name.endsWith('...')) {
      if (close !== rest.length - 1) {
        throw new Error(`${option}: route template "${template}": "{${name}}" is only allowed at the end`);
      }
      source += '.*';
      break;
    }
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) {
      throw new Error(`${option}: route template "${template}": "{${name}}" is not a parameter name`);
    }
    source += '[^/]+';
    rest = rest.slice(close + 1);
  }
  return new RegExp(`${source}$`);
}

export class HttpRoutes {
  readonly #routes: CompiledRoute[];

  /** Throws an Error naming `option` and the template for a malformed one. */
  constructor(templates: readonly string[], option = 'httpRoutes') {
    if (!Array.isArray(templates)) throw new Error(`${option} must be a list of route templates`);
    this.#routes = templates.map((template) => ({ template, regex: compile(template, option) }));
  }

  get size(): number {
    return this.#routes.length;
  }

  /** The first template matching the whole path, or null. */
  match(path: string): string | null {
    const routes = this.#routes;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      if (route.regex.test(path)) return route.template;
    }
    return null;
  }
}
