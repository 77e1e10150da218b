/** The types of parse-prometheus-text-format (the package ships none): the families of a Prometheus text exposition. */
declare module 'parse-prometheus-text-format' {
  /** One sample: a counter's or gauge's value, or a histogram's buckets, count and sum (as text, as in the exposition). */
  export interface PrometheusSample {
    readonly value?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly buckets?: Readonly<Record<string, string>>;
    readonly count?: string;
    readonly sum?: string;
  }
  /** One metric family: its name, HELP, TYPE (COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED) and samples. */
  export interface PrometheusFamily {
    readonly name: string;
    readonly help: string;
    readonly type: string;
    readonly metrics: readonly PrometheusSample[];
  }
  /** Parses the text format; throws on a line that is not valid exposition. */
  export default function parsePrometheusTextFormat(text: string): PrometheusFamily[];
}
