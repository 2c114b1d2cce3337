// Kiali's graph find/hide language, so that users' saved expressions keep
// working. An expression is clauses joined by "or"; a clause is tests joined
// by "and" (so "a and b or c" is "(a and b) or c": Kiali's help calls this
// "OR has precedence over AND" — it splits on OR first); no parentheses.
// A clause tests either nodes or edges, never both.

import type { EdgeFacts, Facts, NodeFacts } from '../graph/facts';

export type Target = 'node' | 'edge';

/** A display option an operand needs, turned on as Kiali does. */
export type Enables = 'security' | 'idleNodes' | 'rank' | 'responseTime' | 'throughput';

type Test = (f: Facts) => boolean;

interface Clause {
  target: Target;
  tests: Test[];
}

/** A parsed expression: matches nodes and edges. */
export interface Expression {
  readonly source: string;
  readonly enables: ReadonlySet<Enables>;
  matches(f: Facts): boolean;
}

export class ParseError extends Error {
  override name = 'ParseError';
}

const nodeStrings: Record<string, (n: NodeFacts) => string | undefined> = {
  app: (n) => n.app,
  cluster: (n) => n.cluster,
  namespace: (n) => n.namespace,
  ns: (n) => n.namespace,
  operation: (n) => n.aggregateValue,
  op: (n) => n.aggregateValue,
  service: (n) => n.service,
  svc: (n) => n.service,
  version: (n) => n.version,
  workload: (n) => n.workload,
  wl: (n) => n.workload,
};

const nodeNumbers: Record<string, keyof NodeFacts['rates']> = {
  grpcin: 'grpcIn',
  grpcout: 'grpcOut',
  httpin: 'httpIn',
  httpout: 'httpOut',
  tcpin: 'tcpIn',
  tcpout: 'tcpOut',
};

const edgeNumbers: Record<string, keyof EdgeFacts['rates']> = {
  grpc: 'grpc',
  '%grpcerr': 'grpcPercentErr',
  '%grpcerror': 'grpcPercentErr',
  '%grpctraffic': 'grpcPercentReq',
  http: 'http',
  '%httperr': 'httpPercentErr',
  '%httperror': 'httpPercentErr',
  '%httptraffic': 'httpPercentReq',
  tcp: 'tcp',
  rt: 'responseTime',
  responsetime: 'responseTime',
  throughput: 'throughput',
};

const edgeStrings: Record<string, (e: EdgeFacts) => string | undefined> = {
  protocol: (e) => e.protocol,
  sourceprincipal: (e) => e.sourcePrincipal,
  destprincipal: (e) => e.destPrincipal,
};

// Unary node operands: the node flag each tests.
const nodeFlags: Record<string, (n: NodeFacts) => boolean> = {
  cb: (n) => n.hasCB,
  circuitbreaker: (n) => n.hasCB,
  dead: (n) => n.isDead,
  fi: (n) => n.hasFaultInjection,
  faultinjection: (n) => n.hasFaultInjection,
  inaccessible: (n) => n.isInaccessible,
  idle: (n) => n.isIdle,
  mirroring: (n) => n.hasMirroring,
  outside: (n) => n.isOutside,
  outsider: (n) => n.isOutside,
  rr: (n) => n.hasRequestRouting,
  requestrouting: (n) => n.hasRequestRouting,
  rto: (n) => n.hasRequestTimeout,
  requesttimeout: (n) => n.hasRequestTimeout,
  se: (n) => n.isServiceEntry,
  serviceentry: (n) => n.isServiceEntry,
  sc: (n) => !n.hasMissingSC,
  sidecar: (n) => !n.hasMissingSC,
  outofmesh: (n) => n.hasMissingSC,
  tcpts: (n) => n.hasTCPTrafficShifting,
  tcptrafficshifting: (n) => n.hasTCPTrafficShifting,
  ts: (n) => n.hasTrafficShifting,
  trafficshifting: (n) => n.hasTrafficShifting,
  trafficsource: (n) => n.isRoot,
  root: (n) => n.isRoot,
  vs: (n) => n.hasVS,
  virtualservice: (n) => n.hasVS,
  we: (n) => n.hasWorkloadEntry,
  workloadentry: (n) => n.hasWorkloadEntry,
};

/** Every operand, for tab completion and the help. */
export const operands: readonly string[] = [
  ...Object.keys(nodeStrings),
  ...Object.keys(nodeNumbers),
  'label:',
  'name',
  'node',
  'rank',
  ...Object.keys(nodeFlags),
  'healthy',
  ...Object.keys(edgeNumbers),
  ...Object.keys(edgeStrings),
  'mtls',
  'traffic',
].sort();

/** Kiali's preset expressions. */
export const presets = {
  find: [
    { label: 'slow edges (> 1s)', expression: 'rt > 1000' },
    { label: 'unhealthy nodes', expression: '! healthy' },
    { label: 'unknown nodes', expression: 'name = unknown' },
    { label: 'nodes with the 2 top rankings', expression: 'rank <= 2' },
  ],
  hide: [
    { label: 'healthy nodes', expression: 'healthy' },
    { label: 'unknown nodes', expression: 'name = unknown' },
    { label: 'nodes ranked lower than the 2 top rankings', expression: 'rank > 2' },
  ],
} as const;

// Operators, longest first so that "!*=" is not read as "*=".
const operators = ['!*=', '!$=', '!^=', '!=', '>=', '<=', '*=', '$=', '^=', '=', '>', '<'] as const;
type Operator = (typeof operators)[number];

/** Rewrites words into symbols, as Kiali does before parsing. */
export function prepare(text: string): string {
  let v = ' ' + text.replace(/\s+/g, ' ');
  v = v.replace(/ is /gi, ' ').replace(/ has /gi, ' ');
  v = v.replace(/ !\s*is /gi, ' ! ').replace(/ !\s*has /gi, ' ! ');
  v = v.replace(/ not /gi, ' !');
  v = v.replace(/ !\s*contains /gi, ' !*= ').replace(/ !\s*startswith /gi, ' !^= ').replace(/ !\s*endswith /gi, ' !$= ');
  v = v.replace(/ contains /gi, ' *= ').replace(/ startswith /gi, ' ^= ').replace(/ endswith /gi, ' $= ');
  v = v.replace(/ and /gi, ' AND ').replace(/ or /gi, ' OR ');
  return v.trim();
}

/** Parses text; an empty text is undefined (nothing to find). */
export function parse(text: string): Expression | undefined {
  const prepared = prepare(text);
  if (prepared === '') return undefined;
  const enables = new Set<Enables>();
  const clauses: Clause[] = [];
  for (const orPart of prepared.split(' OR ')) {
    const ands = orPart.split(' AND ');
    let clause: Clause | undefined;
    for (const part of ands) {
      const [target, test] = parseTest(part.trim(), ands.length > 1, enables);
      if (clause && clause.target !== target) {
        throw new ParseError('Invalid expression. Can not AND node and edge criteria.');
      }
      clause ??= { target, tests: [] };
      clause.tests.push(test);
    }
    if (clause) clauses.push(clause);
  }
  return {
    source: text,
    enables,
    matches(f: Facts): boolean {
      return clauses.some((c) => c.target === f.kind && c.tests.every((t) => t(f)));
    },
  };
}

function findOperator(expr: string): Operator | undefined {
  let best: { op: Operator; at: number } | undefined;
  for (const op of operators) {
    const at = expr.indexOf(op);
    if (at >= 0 && (!best || at < best.at)) best = { op, at };
  }
  return best?.op;
}

function parseTest(expr: string, conjunctive: boolean, enables: Set<Enables>): [Target, Test] {
  if (expr === '') throw new ParseError('Missing expression around AND / OR');
  const op = findOperator(expr);
  if (!op) {
    let negated = false;
    let operand = expr;
    if (operand.startsWith('!')) {
      negated = true;
      operand = operand.slice(1).trim();
    }
    if (operand.includes(' ')) throw new ParseError('No valid operator found in expression');
    if (negated && operand.toLowerCase() === 'healthy') return ['node', nodeTest(unhealthy)];
    const unary = parseUnary(operand, enables);
    if (!unary) throw new ParseError(`Invalid Node or Edge operand [${operand}]`);
    const [target, test] = unary;
    return [target, negated ? (f) => !test(f) : test];
  }
  const at = expr.indexOf(op);
  const field = expr.slice(0, at).trim().toLowerCase();
  const rawField = expr.slice(0, at).trim();
  const value = expr.slice(at + op.length).trim();
  if (field === '') throw new ParseError(`Missing operand before [${op}]`);
  if (field.startsWith('!')) {
    throw new ParseError('Leading negation is valid only for unary operands and label existence');
  }
  if (value === '') throw new ParseError(`Missing value after [${op}]`);

  const str = nodeStrings[field];
  if (str) return ['node', nodeTest((n) => compareString(str(n), op, value))];
  const nodeNum = nodeNumbers[field];
  if (nodeNum) {
    const cmp = numeric(op, value);
    return ['node', nodeTest((n) => cmp(n.rates[nodeNum]))];
  }
  const edgeNum = edgeNumbers[field];
  if (edgeNum) {
    if (edgeNum === 'responseTime') enables.add('responseTime');
    if (edgeNum === 'throughput') enables.add('throughput');
    const cmp = numeric(op, value);
    return ['edge', edgeTest((e) => cmp(e.rates[edgeNum]))];
  }
  const edgeStr = edgeStrings[field];
  if (edgeStr) {
    if (field.endsWith('principal')) enables.add('security');
    return ['edge', edgeTest((e) => compareString(edgeStr(e), op, value))];
  }
  switch (field) {
    case 'name': {
      if (conjunctive) throw new ParseError("Can not use 'AND' with 'name' operand");
      const names = (n: NodeFacts) => [n.aggregateValue, n.app, n.service, n.workload];
      // Negated, every name must pass; otherwise any.
      return op.startsWith('!')
        ? ['node', nodeTest((n) => names(n).every((v) => compareString(v, op, value)))]
        : ['node', nodeTest((n) => names(n).some((v) => compareString(v, op, value)))];
    }
    case 'node': {
      const want = nodeTypeAliases[value.toLowerCase()] ?? value.toLowerCase();
      if (!['aggregate', 'app', 'service', 'workload', 'unknown'].includes(want)) {
        throw new ParseError(`Invalid node type [${value}]. Expected app | operation | service | unknown | workload`);
      }
      return ['node', nodeTest((n) => compareString(n.nodeType, op, want))];
    }
    case 'rank': {
      const v = Number(value);
      if (Number.isNaN(v) || v < 1 || v > 100) {
        throw new ParseError(`Invalid rank range [${value}]. Expected a number between 1..100`);
      }
      enables.add('rank');
      const cmp = numeric(op, value);
      return ['node', nodeTest((n) => cmp(n.rank))];
    }
  }
  if (field.startsWith('label:')) {
    const key = rawField.slice('label:'.length);
    return ['node', nodeTest((n) => compareString(n.labels[key], op, value))];
  }
  throw new ParseError(`Invalid operand [${rawField}]`);
}

const nodeTypeAliases: Record<string, string> = { op: 'aggregate', operation: 'aggregate', svc: 'service', wl: 'workload' };

function parseUnary(operand: string, enables: Set<Enables>): [Target, Test] | undefined {
  const name = operand.toLowerCase();
  const flag = nodeFlags[name];
  if (flag) {
    if (name === 'idle') enables.add('idleNodes');
    return ['node', nodeTest(flag)];
  }
  switch (name) {
    case 'healthy':
      return ['node', nodeTest((n) => n.healthStatus === 'Healthy')];
    case 'mtls':
      enables.add('security');
      return ['edge', edgeTest((e) => (e.rates.isMTLS ?? 0) > 0)];
    case 'traffic':
      return ['edge', edgeTest((e) => e.hasTraffic)];
  }
  if (name.startsWith('label:')) {
    const key = operand.slice('label:'.length);
    return ['node', nodeTest((n) => key in n.labels)];
  }
  return undefined;
}

// Negated "healthy" is Kiali's "unhealthy": neither healthy, nor without
// health, nor not ready. parse() negates unary tests; this keeps that one
// case as Kiali decides it.
export function unhealthy(n: NodeFacts): boolean {
  return n.healthStatus !== undefined && !['Healthy', 'NA', 'Not Ready'].includes(n.healthStatus);
}

function nodeTest(t: (n: NodeFacts) => boolean): Test {
  return (f) => f.kind === 'node' && t(f);
}

function edgeTest(t: (e: EdgeFacts) => boolean): Test {
  return (f) => f.kind === 'edge' && t(f);
}

function compareString(actual: string | undefined, op: Operator, want: string): boolean {
  switch (op) {
    case '=':
      return actual === want;
    case '!=':
      return actual !== want;
    case '*=':
      return actual !== undefined && actual.includes(want);
    case '!*=':
      return actual === undefined || !actual.includes(want);
    case '^=':
      return actual !== undefined && actual.startsWith(want);
    case '!^=':
      return actual === undefined || !actual.startsWith(want);
    case '$=':
      return actual !== undefined && actual.endsWith(want);
    case '!$=':
      return actual === undefined || !actual.endsWith(want);
    case '>':
      return actual !== undefined && actual > want;
    case '>=':
      return actual !== undefined && actual >= want;
    case '<':
      return actual !== undefined && actual < want;
    case '<=':
      return actual !== undefined && actual <= want;
  }
}

/** A numeric test; "= NaN" is "no activity", "!= NaN" any. */
function numeric(op: Operator, value: string): (v: number | undefined) => boolean {
  const want = Number(value);
  const isNaNValue = value.toLowerCase() === 'nan';
  switch (op) {
    case '=':
      if (isNaNValue) return (v) => v === undefined;
      break;
    case '!=':
      if (isNaNValue) return (v) => v !== undefined;
      break;
    case '>':
    case '>=':
    case '<':
    case '<=':
      break;
    default:
      throw new ParseError(`Invalid operator [${op}] for numeric condition`);
  }
  if (Number.isNaN(want)) {
    throw new ParseError(`Invalid value [${value}]. Expected a numeric value (use '.' for decimals)`);
  }
  switch (op) {
    case '=':
      return (v) => v === want;
    case '!=':
      return (v) => v !== want;
    case '>':
      return (v) => v !== undefined && v > want;
    case '>=':
      return (v) => v !== undefined && v >= want;
    case '<':
      return (v) => v !== undefined && v < want;
    default:
      return (v) => v !== undefined && v <= want;
  }
}

/** Tab completion: the operands that complete the text's last word. */
export function complete(text: string): string[] {
  const m = /([!%:\w-]*)$/.exec(text);
  const word = (m?.[1] ?? '').replace(/^!/, '').toLowerCase();
  if (word === '') return [];
  return operands.filter((o) => o.startsWith(word) && o !== word);
}
