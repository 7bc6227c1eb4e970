// Untrusted text (branch names, refs, reasons quoting a payload) in log lines and tables.
// Design notes: docs/security.md ("lib/printable.ts").
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is looked for
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/** `text` unchanged when it is safe to print, else as a JSON string literal (`"a\nb"`). */
export function printable(text: string): string {
  UNSAFE.lastIndex = 0;
  if (!UNSAFE.test(text)) return text;
  // JSON.stringify escapes C0 controls but not DEL, C1, separators or bidi marks: those as \uXXXX.
  return JSON.stringify(text).replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
