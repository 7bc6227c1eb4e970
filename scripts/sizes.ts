// Size limits of the harness: no function over 80 lines (data tables aside), no file over 400 lines.
// Reads each file with the TypeScript compiler API; `npm run check:sizes` prints and checks them.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

export const MAX_FUNCTION_LINES = 80;
export const MAX_FILE_LINES = 400;

/** Functions that are data tables (a list or map written out), allowed past the limit: `file#name`. */
export const DATA_TABLES: readonly string[] = ["harness/observability/queries.ts#queryCatalogue"];

/** Files another helper is still reshaping: printed, not failed on, until the lead empties this list. */
export const PENDING: readonly string[] = [];

export interface Oversize {
  file: string;
  /** `null` for the file itself. */
  name: string | null;
  line: number;
  lines: number;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function nameOf(node: ts.Node, source: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name !== undefined) return named.name.getText(source);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent)) return parent.name.getText(source);
  if (ts.isCallExpression(parent)) return `${parent.expression.getText(source).slice(0, 40)}(…)`;
  return "(anonymous)";
}

/** Every function of one file's text over `maxLines`, plus the file when it is over `maxFileLines`. */
export function oversizeIn(file: string, text: string, maxLines = MAX_FUNCTION_LINES, maxFileLines = MAX_FILE_LINES): Oversize[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Oversize[] = [];
  const fileLines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (fileLines > maxFileLines) found.push({ file, name: null, line: 1, lines: fileLines });
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > maxLines) found.push({ file, name: nameOf(node, source), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Every oversize function and file under `root`, data tables left out. */
export function oversize(root: string, tables: readonly string[] = DATA_TABLES): Oversize[] {
  return tsFiles(root)
    .flatMap((file) => oversizeIn(file, readFileSync(file, "utf8")))
    .filter((o) => o.name === null || !tables.includes(`${o.file}#${o.name}`));
}

/** Whether a finding sits in a file another helper is still reshaping. */
export function isPending(o: Oversize, pending: readonly string[] = PENDING): boolean {
  return pending.some((p) => (p.endsWith("/") ? o.file.startsWith(p) : o.file === p));
}

function describeOne(o: Oversize): string {
  const what = o.name === null ? "file" : `function ${o.name}`;
  return `${o.file}:${o.line} ${what}: ${o.lines} lines`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = oversize("harness");
  const failing = found.filter((o) => !isPending(o));
  for (const o of found) console.log(`${isPending(o) ? "pending" : "over   "} ${describeOne(o)}`);
  const limits = `functions over ${MAX_FUNCTION_LINES} lines, files over ${MAX_FILE_LINES}`;
  console.log(`check:sizes: ${failing.length} over the limits (${limits}), ${found.length - failing.length} pending`);
  process.exitCode = failing.length === 0 ? 0 : 1;
}
