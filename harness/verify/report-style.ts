// How verify.html looks, in the two forms Jenkins lets through.
// Design notes: docs/verify.md ("verify/report-style.ts").

/** The stylesheet's file name, beside verify.html. */
export const REPORT_STYLESHEET = "verify.css";

/** One look for chart elements: applies to an element carrying every class in `classes`. */
interface ChartRule {
  readonly tag?: string;
  readonly classes: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
}

/**
 * The charts' look, in cascade order (a later matching rule overrides an earlier one), as
 * presentation attributes. Kept next to REPORT_CSS, which says the same for browsers that load it.
 */
const CHART_RULES: readonly ChartRule[] = [
  { classes: ["grid"], attributes: { stroke: "#eee" } },
  { classes: ["axis"], attributes: { "font-size": "11", fill: "#555" } },
  { classes: ["val"], attributes: { "font-size": "11", fill: "#222" } },
  { classes: ["bar"], attributes: { fill: "#4a7fc1" } },
  { classes: ["bar", "warn"], attributes: { fill: "#e0a030" } },
  { classes: ["bar", "bad"], attributes: { fill: "#c0392b" } },
  { classes: ["fair"], attributes: { stroke: "#222", "stroke-width": "2", "stroke-dasharray": "5 3" } },
  { classes: ["hist"], attributes: { fill: "#7a9e4a" } },
  { classes: ["small"], attributes: { "font-size": "10" } },
  { classes: ["strong"], attributes: { "font-weight": "600", fill: "#222" } },
  { classes: ["val", "bad"], attributes: { fill: "#b00020", "font-weight": "600" } },
  { classes: ["q50"], attributes: { fill: "#9cc3e6" } },
  { classes: ["q90"], attributes: { fill: "#4a7fc1" } },
  { classes: ["q99"], attributes: { fill: "#1f3f73" } },
  { classes: ["track"], attributes: { fill: "#f2f2f2" } },
  { classes: ["sep"], attributes: { stroke: "#bbb", "stroke-dasharray": "3 3" } },
  { tag: "tspan", classes: ["axis"], attributes: { "font-weight": "400" } },
  { classes: ["sc1"], attributes: { fill: "#8fa9c4" } },
  { classes: ["sc2"], attributes: { fill: "#5a9e5a" } },
  { classes: ["sc3"], attributes: { fill: "#8fa9c4" } },
  { classes: ["sc4"], attributes: { fill: "#e0a030" } },
  { classes: ["sc5"], attributes: { fill: "#c0392b" } },
  { classes: ["scx"], attributes: { fill: "#999" } },
];

const chartCss = CHART_RULES.map((rule) => {
  const selector = `svg ${rule.tag ?? ""}${rule.classes.map((c) => `.${c}`).join("")}`;
  const body = Object.entries(rule.attributes)
    .map(([name, value]) => `${name}:${name === "font-size" ? `${value}px` : value}`)
    .join(";");
  return `${selector}{${body}}`;
}).join("\n");

/** verify.css: the page's layout and colours, and the charts' rules (generated from CHART_RULES). */
export const REPORT_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:17px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}td.n{text-align:right;white-space:nowrap}
.pass{color:#176b2c;font-weight:600}.fail{color:#b00020;font-weight:600}.charts{display:flex;gap:24px;flex-wrap:wrap}
.muted{color:#666}code{font-size:13px}h3{font-size:15px;margin:20px 0 6px}tr.total td{font-weight:600;background:#f6f6f6}
${chartCss}
`;

const ELEMENT_WITH_CLASS = /<(rect|line|text|tspan|path|circle|polyline)\b([^>]*?)\sclass="([^"]*)"/g;

/**
 * `svg` with each classed chart element given its look as presentation attributes, inserted
 * before its class attribute (attributes the element already has are kept).
 */
export function withPresentationAttributes(svg: string): string {
  return svg.replace(ELEMENT_WITH_CLASS, (whole, tag: string, before: string, classList: string) => {
    const classes = new Set(classList.split(/\s+/).filter((c) => c !== ""));
    const attributes: Record<string, string> = {};
    for (const rule of CHART_RULES) {
      if ((rule.tag === undefined || rule.tag === tag) && rule.classes.every((c) => classes.has(c))) {
        Object.assign(attributes, rule.attributes);
      }
    }
    const added = Object.entries(attributes)
      .filter(([name]) => !new RegExp(`\\s${name}="`).test(before))
      .map(([name, value]) => ` ${name}="${value}"`)
      .join("");
    return added === "" ? whole : `<${tag}${before}${added} class="${classList}"`;
  });
}
