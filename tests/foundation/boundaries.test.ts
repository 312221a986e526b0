import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/**
 * Module boundaries, read from the import statements of server/src with the TypeScript compiler API.
 *
 * What counts:
 * - A *module* is every directory under server/src/modules/ (found at run time, so a new module such as
 *   campaigns or commerce is covered the moment it appears) plus server/src/realtime/. Everything else in
 *   server/src (db/, graphql/, http/, shared/, observability/, app.ts, services.ts) is the frame the modules
 *   sit in and may import any file: db/entities.ts registers entities, graphql/schema.ts registers resolvers.
 * - An *import* is any `import ... from`, `export ... from`, `import type`, `import x = require()` or dynamic
 *   `import()` with a relative specifier. Rules 1 and 2 count type-only imports too (they couple modules
 *   just the same).
 * - Rule 1, surfaces: a file of one module imports another module only through that module's `index.ts`.
 * - Rule 2, no cycles between domain modules: the graph "module A imports module B" over server/src/modules/*
 *   has no cycle (campaigns may use inbox and identity, never the other way round).
 * - Rule 3, no runtime file cycle across modules: no cycle of value imports (type-only imports are erased at
 *   build time and cannot change the order modules initialise in) over the files of server/src, frame
 *   included, passes through two modules. realtime is used by the domain modules (the event log, access changes) and
 *   uses them (live queries, visibility), so it is layered by file rather than by directory: its index.ts
 *   exposes only the write side, and nothing the write side imports leads back into a domain module.
 */

const ROOT = path.resolve(__dirname, '../..');
const SRC = path.join(ROOT, 'server/src');
const MODULES_DIR = path.join(SRC, 'modules');

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Module roots: each directory under server/src/modules/, and server/src/realtime. */
function moduleRoots(): Map<string, string> {
  const roots = new Map<string, string>();
  for (const entry of fs.readdirSync(MODULES_DIR, { withFileTypes: true })) {
    if (entry.isDirectory()) roots.set(entry.name, path.join(MODULES_DIR, entry.name));
  }
  roots.set('realtime', path.join(SRC, 'realtime'));
  return roots;
}

function moduleOf(file: string, roots: Map<string, string>): string | undefined {
  for (const [name, dir] of roots) if (file.startsWith(dir + path.sep)) return name;
  return undefined;
}

/** `import type {...}`, `export type {...}`, or an import whose every named binding says `type`. */
function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) {
    return node.isTypeOnly || (!!node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.every((e) => e.isTypeOnly));
  }
  const clause = node.importClause;
  if (!clause) return false;
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return !clause.name && !!named && ts.isNamedImports(named) && named.elements.length > 0 && named.elements.every((e) => e.isTypeOnly);
}

function specifiersOf(file: string): Array<{ spec: string; typeOnly: boolean }> {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const specs: Array<{ spec: string; typeOnly: boolean }> = [];
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specs.push({ spec: node.moduleSpecifier.text, typeOnly: isTypeOnly(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expr = node.moduleReference.expression;
      if (ts.isStringLiteral(expr)) specs.push({ spec: expr.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) specs.push({ spec: arg.text, typeOnly: false });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specs;
}

function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), spec.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

interface Edge { from: string; to: string; spec: string; typeOnly: boolean }

function importGraph(files: string[]): Edge[] {
  const edges: Edge[] = [];
  for (const from of files) {
    for (const { spec, typeOnly } of specifiersOf(from)) {
      const to = resolve(from, spec);
      if (to) edges.push({ from, to, spec, typeOnly });
    }
  }
  return edges;
}

/** Strongly connected components with more than one node (Tarjan). */
function cycles(nodes: string[], next: (node: string) => string[]): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) strong(v);
  return out;
}

const rel = (file: string) => path.relative(ROOT, file);

describe('module boundaries', () => {
  const roots = moduleRoots();
  const files = listFiles(SRC);
  const edges = importGraph(files);

  it('finds the modules under server/src/modules and realtime', () => {
    expect([...roots.keys()]).toEqual(expect.arrayContaining(['identity', 'inbox', 'realtime']));
    for (const [name, dir] of roots) {
      expect(fs.existsSync(path.join(dir, 'index.ts')), `${name} has an index.ts`).toBe(true);
    }
  });

  it('a module imports another module only through its index.ts', () => {
    const deep = edges
      .filter(({ from, to }) => {
        const a = moduleOf(from, roots);
        const b = moduleOf(to, roots);
        return a !== undefined && b !== undefined && a !== b && to !== path.join(roots.get(b)!, 'index.ts');
      })
      .map(({ from, spec }) => `${rel(from)} imports '${spec}'`);
    expect(deep).toEqual([]);
  });

  it('the domain modules depend on each other without a cycle', () => {
    const uses = new Map<string, Set<string>>();
    for (const { from, to } of edges) {
      const a = moduleOf(from, roots);
      const b = moduleOf(to, roots);
      if (!a || !b || a === b || a === 'realtime' || b === 'realtime') continue;
      if (!uses.has(a)) uses.set(a, new Set());
      uses.get(a)!.add(b);
    }
    const names = [...roots.keys()].filter((n) => n !== 'realtime');
    expect(cycles(names, (n) => [...(uses.get(n) ?? [])])).toEqual([]);
  });

  it('no runtime import cycle of files passes through two modules', () => {
    const next = new Map<string, string[]>();
    for (const { from, to, typeOnly } of edges) if (!typeOnly) next.set(from, [...(next.get(from) ?? []), to]);
    const crossing = cycles(files, (f) => next.get(f) ?? [])
      .filter((component) => new Set(component.map((f) => moduleOf(f, roots)).filter(Boolean)).size > 1)
      .map((component) => component.map(rel));
    expect(crossing).toEqual([]);
  });
});
