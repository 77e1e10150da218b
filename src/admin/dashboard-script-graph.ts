/**
 * The dashboard's graph, as browser JavaScript (a part of DASHBOARD_SCRIPT): the services drawn
 * as SVG nodes in layers by dependency depth — left to right, or top to bottom in a narrow
 * window — and the edges from a dependent to what it depends on, as `hendrix graph` draws them.
 * Plain ES2020 in a string: no backquote and no dollar-brace inside, so it needs no escaping.
 */
export const GRAPH_SCRIPT = String.raw`
const NODE_W = 156, NODE_H = 46, GAP_LAYER = 56, GAP_NODE = 14, PAD = 10;
const NARROW = matchMedia('(max-width: 400px)');

/** Each service's depth: 0 without dependencies, else one more than its deepest dependency. */
function layersOf(st, deps) {
  const depth = new Map();
  const depthOf = (name, trail) => {
    if (depth.has(name)) return depth.get(name);
    // a cycle never runs, but the page must not loop on one
    if (trail.has(name)) return 0;
    trail.add(name);
    let d = 0;
    for (const dep of deps.get(name)) if (deps.has(dep)) d = Math.max(d, depthOf(dep, trail) + 1);
    trail.delete(name);
    depth.set(name, d);
    return d;
  };
  const layers = [];
  // start order within a layer, so the page reads like the start-up log
  for (const s of st.services) {
    const d = depthOf(s.name, new Set());
    (layers[d] = layers[d] || []).push(s.name);
  }
  return layers.filter(Boolean);
}

const clip = (text, max) => (text.length > max ? text.slice(0, max - 1) + '…' : text);

/** Builds the SVG for this set of services and edges (called again only when they change). */
function buildGraph(st) {
  const vertical = NARROW.matches;
  const deps = new Map(st.services.map((s) => [s.name, new Set(s.dependsOn || [])]));
  const via = new Map();
  for (const e of st.edges || []) {
    if (!deps.has(e.from) || !deps.has(e.to)) continue;
    deps.get(e.from).add(e.to);
    via.set(e.from + '>' + e.to, e.via);
  }
  const layers = layersOf(st, deps);
  const at = new Map();
  layers.forEach((layer, i) => layer.forEach((name, j) => {
    const along = PAD + i * ((vertical ? NODE_H : NODE_W) + GAP_LAYER);
    const across = PAD + j * ((vertical ? NODE_W : NODE_H) + GAP_NODE);
    at.set(name, vertical ? { x: across, y: along } : { x: along, y: across });
  }));
  const most = Math.max(1, ...layers.map((l) => l.length));
  const long = PAD * 2 + layers.length * ((vertical ? NODE_H : NODE_W) + GAP_LAYER) - GAP_LAYER;
  const wide = PAD * 2 + most * ((vertical ? NODE_W : NODE_H) + GAP_NODE) - GAP_NODE;
  const [w, hgt] = vertical ? [wide, long] : [long, wide];
  // an image to assistive technology, named by its title: the services in start order (the cards say each state)
  const svg = h('svg:svg', { viewBox: '0 0 ' + w + ' ' + hgt, width: w, height: hgt, role: 'img' }, [
    h('svg:title', { text: 'The services in start order: ' + layers.map((l) => l.join(', ')).join(', then ') }),
    h('svg:defs', {}, [h('svg:marker', { id: 'arrow', viewBox: '0 0 8 8', refX: 8, refY: 4, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, [h('svg:path', { d: 'M0 0 L8 4 L0 8 z', class: 'arrowhead' })])]),
  ]);
  for (const [from, targets] of deps) {
    for (const to of targets) {
      const a = at.get(from), b = at.get(to);
      if (!a || !b) continue;
      // from the dependent's near side to the dependency's far side: the arrow reads "needs"
      const [x1, y1, x2, y2] = vertical
        ? [a.x + NODE_W / 2, a.y, b.x + NODE_W / 2, b.y + NODE_H]
        : [a.x, a.y + NODE_H / 2, b.x + NODE_W, b.y + NODE_H / 2];
      // a curve that leaves and arrives along the layers' direction (arrays join with commas, as SVG allows)
      const bend = vertical ? [x1, (y1 + y2) / 2, x2, (y1 + y2) / 2] : [(x1 + x2) / 2, y1, (x1 + x2) / 2, y2];
      const why = via.get(from + '>' + to);
      svg.append(h('svg:path', { d: 'M' + [x1, y1] + 'C' + bend + ' ' + [x2, y2], class: 'edge', 'marker-end': 'url(#arrow)' }, [h('svg:title', { text: from + ' → ' + to + (why ? ' (' + why + ')' : '') })]));
    }
  }
  S.nodes = new Map();
  for (const s of st.services) {
    const p = at.get(s.name);
    const sub = h('svg:text', { x: p.x + 10, y: p.y + 36, class: 'sub' });
    const title = h('svg:title');
    const g = h('svg:g', { class: 'node', 'data-service': s.name }, [
      title,
      h('svg:rect', { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 7 }),
      h('svg:text', { x: p.x + 10, y: p.y + 19, class: 'name', text: clip(s.name, 18) }),
      sub,
    ]);
    S.nodes.set(s.name, { g, sub, title });
    svg.append(g);
  }
  $('graph').replaceChildren(svg);
}

/** Draws the graph when the services or edges changed, and colours every node by its state. */
function drawGraph(st) {
  const key = NARROW.matches + JSON.stringify([st.services.map((s) => s.name), st.edges]);
  if (key !== S.graphKey) {
    buildGraph(st);
    S.graphKey = key;
  }
  for (const s of st.services) {
    const node = S.nodes.get(s.name);
    if (!node) continue;
    node.g.setAttribute('data-state', s.state);
    // the state in words too (colour is never the only sign), whole: a long kind gives way
    node.sub.textContent = clip(s.kind, Math.max(4, 21 - s.state.length)) + ' · ' + s.state;
    node.title.textContent = s.name + ' (' + s.kind + '): ' + s.state;
  }
}

NARROW.addEventListener('change', () => {
  S.graphKey = '';
  if (S.status) drawGraph(S.status);
});
`;
