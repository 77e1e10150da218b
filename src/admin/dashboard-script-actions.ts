/**
 * The dashboard's buttons, as browser JavaScript (a part of DASHBOARD_SCRIPT): restart (or
 * start) a service, and reload in two steps — a dry run whose diff is shown as `hendrix reload
 * --dry-run` prints it (src/runtime/plan-diff-format.ts), then the reload once confirmed.
 * Every outcome goes to an aria-live region. Plain ES2020 in a string: no backquote and no
 * dollar-brace inside.
 */
export const ACTIONS_SCRIPT = String.raw`
const dur = (ms) => (ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s');

/** Shows what happened in an outcome region: a line, or the errors the instance answered. */
function outcome(el, text, errors) {
  el.classList.toggle('bad', !!errors);
  el.replaceChildren(...(errors ? errors.map(errorView) : [text]));
}

async function operate(name, op, c) {
  c.restart.disabled = c.start.disabled = true;
  outcome(c.outcome, (op === 'restart' ? 'restarting ' : 'starting ') + name + '…');
  const t0 = performance.now();
  const r = await call('POST', 'services/' + encodeURIComponent(name) + '/' + op);
  c.restart.disabled = c.start.disabled = false;
  // the answer is { service: its status once the operation is done }
  const state = r.ok && r.body && r.body.service && r.body.service.state;
  if (r.ok) outcome(c.outcome, name + (op === 'restart' ? ' restarted' : ' started') + ' (' + (state || 'done') + ' after ' + dur(performance.now() - t0) + ')');
  else outcome(c.outcome, '', r.errors);
  refresh();
}

// the diff, as formatPlanDiff prints it
const fieldPath = (p) => p.map((s, i) => (typeof s === 'number' ? '[' + s + ']' : i === 0 ? s : '.' + s)).join('');
function shown(field, side) {
  if (!(side in field)) return '(unset)';
  const v = field[side];
  const text = v === '[redacted]' ? v : JSON.stringify(v) ?? String(v);
  return text.length > 60 ? text.slice(0, 59) + '…' : text;
}
/** The diff's lines, each [text, sign] (sign: + added, - removed, ~ changed, = unchanged). */
function diffLines(d) {
  const lines = [];
  const by = (list) => new Map((list || []).map((s) => [s.name, s]));
  const removed = by(d.removed), added = by(d.added), changed = by(d.changed);
  const affected = (names, sign) => (names && names.length ? [['  affected: ' + names.join(', '), sign]] : []);
  const relTo = (file) => (d.baseDir && file.startsWith(d.baseDir + '/') ? file.slice(d.baseDir.length + 1) : file);
  for (const step of d.order || []) {
    const gone = removed.get(step.service), fresh = added.get(step.service), ch = changed.get(step.service);
    if (gone) lines.push(['- ' + gone.name, '-'], ...affected(gone.affected, '-'));
    else if (fresh) lines.push(['+ ' + fresh.name + ' (' + fresh.kind + ')', '+']);
    else if (ch) {
      lines.push(['~ ' + ch.name + ' (' + (ch.mode === 'in-place' ? 'in place' : 'replaced') + ')', '~']);
      if ((ch.reasons || []).includes('kind')) lines.push(['    kind: ' + ch.oldKind + ' → ' + ch.kind, '~']);
      for (const f of ch.fields || []) if (!(f.path.length === 1 && f.path[0] === 'kind')) lines.push(['    ' + fieldPath(f.path) + ': ' + shown(f, 'old') + ' → ' + shown(f, 'new'), '~']);
      for (const f of ch.files || []) lines.push(['    file ' + (relTo(f.path) || f.path) + ' ' + f.change, '~']);
      lines.push(...affected(ch.affected, '~'));
    }
  }
  if (d.unchanged && d.unchanged.length) lines.push(['= ' + d.unchanged.length + ' unchanged: ' + d.unchanged.join(', '), '=']);
  if (d.empty) lines.unshift(['no changes', '=']);
  return lines;
}

const STEP_WORDS = { start: 'added', reload: 'in place', replace: 'replaced', rebind: 'rebound', update: 'settings', stop: 'removed' };
/** The line hendrix reload prints for an applied reload, with the new fingerprint. */
function reloadLine(b) {
  if (!b.applied) return b.diff && b.diff.empty ? 'nothing changed: the manifest runs as it is' : 'not applied';
  const steps = ((b.report && b.report.steps) || []).map((s) => s.service + ' ' + (STEP_WORDS[s.action] || s.action) + ' ' + dur(s.ms));
  return 'reloaded in ' + dur(b.ms || 0) + (steps.length ? ': ' + steps.join(', ') : '') + ' · fingerprint ' + String(b.fingerprint || '').slice(0, 12);
}

async function dryRun() {
  const out = $('reload-outcome'), btn = $('reload-btn');
  btn.disabled = true;
  $('reload-panel').hidden = true;
  outcome(out, 'checking the edited manifest…');
  const r = await call('POST', 'reload?dryRun=1');
  btn.disabled = false;
  if (!r.ok) return outcome(out, '', r.errors);
  const d = (r.body && r.body.diff) || { empty: true };
  $('reload-diff').replaceChildren(...diffLines(d).map(([text, sign]) => h('span', { class: 'line', 'data-sign': sign, text: text + '\n' })));
  $('reload-apply').hidden = !!d.empty;
  $('reload-panel').hidden = false;
  outcome(out, d.empty ? 'no changes: the manifest runs as it is' : 'dry run: nothing changes until you apply it');
  (d.empty ? $('reload-cancel') : $('reload-apply')).focus();
}

async function applyReload() {
  const out = $('reload-outcome');
  $('reload-apply').disabled = $('reload-btn').disabled = true;
  outcome(out, 'reloading…');
  const r = await call('POST', 'reload');
  $('reload-apply').disabled = $('reload-btn').disabled = false;
  $('reload-panel').hidden = true;
  if (r.ok) outcome(out, reloadLine(r.body || {}));
  else outcome(out, '', r.errors);
  refresh();
  $('reload-btn').focus();
}

$('reload-btn').addEventListener('click', dryRun);
$('reload-apply').addEventListener('click', applyReload);
$('reload-cancel').addEventListener('click', () => {
  $('reload-panel').hidden = true;
  outcome($('reload-outcome'), 'reload cancelled: nothing changed');
  $('reload-btn').focus();
});
`;
