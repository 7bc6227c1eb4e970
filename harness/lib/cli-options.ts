// Parsers for commander options shared by the stage commands and the webhook commands.

/** A repeatable option: every occurrence is appended (`--branch a --branch b` → ["a", "b"]). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
