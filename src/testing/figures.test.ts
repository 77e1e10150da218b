import { describe, expect, it } from 'vitest';
import { figureProblems } from './figures.js';

describe('figureProblems', () => {
  it('accepts well-formed counters, gauges and histograms', () => {
    expect(
      figureProblems([
        { type: 'counter', name: 'http_requests_total', help: 'Requests answered.', labels: { code: '2xx' }, value: 3 },
        { type: 'counter', name: 'http_requests_total', help: 'Requests answered.', labels: { code: '5xx' }, value: 0 },
        { type: 'gauge', name: 'http_requests_in_flight', help: 'Requests being answered.', value: 1 },
        { type: 'histogram', name: 'http_request_duration_seconds', help: 'How long.', buckets: [0.1, 1], counts: [2, 1, 0], sum: 0.7 },
      ]),
    ).toEqual([]);
  });

  it('names each problem', () => {
    const problems = figureProblems([
      { type: 'counter', name: 'hendrix_requests', help: '', value: -1 },
      { type: 'gauge', name: 'Bad-Name', help: 'x', labels: { service: 'web' }, value: Number.NaN },
      { type: 'gauge', name: 'queue', help: 'x', value: 1 },
      { type: 'counter', name: 'queue', help: 'x', value: 1 },
      { type: 'histogram', name: 'latency_seconds', help: 'x', buckets: [1, 0.5], counts: [1], sum: 1 },
    ]);
    expect(problems.join('\n')).toMatchInlineSnapshot(`
      "figure hendrix_requests: the name must not start with hendrix_ (the core adds it)
      figure hendrix_requests: help must be a sentence
      figure hendrix_requests: a counter's name ends in _total
      figure hendrix_requests: a counter is never negative
      figure Bad-Name{"service":"web"}: the name must match /^[a-z][a-z0-9_]*$/ (no hendrix_ prefix: the core adds it)
      figure Bad-Name{"service":"web"}: label service is not allowed (service, worker and le are the core's)
      figure Bad-Name{"service":"web"}: the value must be a finite number
      figure queue: every sample of one name has one type and the same label names
      figure queue: reported twice
      figure queue: a counter's name ends in _total
      figure latency_seconds: buckets must be finite and ascending
      figure latency_seconds: counts must have one entry per bucket plus one for +Inf"
    `);
  });
});
