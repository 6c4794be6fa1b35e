// JSON text for the stored documents. JSON.stringify writes -0 as "0", so a stored result would
// not deep-equal what the engine reported; JSON.parse reads "-0" back as -0, so writing it out
// is enough to make the round trip exact (every other finite double already round-trips).

export function stringifyExact(value: unknown): string {
  const text = encode(value);
  if (text === undefined) throw new TypeError('value is not representable as JSON');
  return text;
}

function encode(v: unknown): string | undefined {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number':
      return Object.is(v, -0) ? '-0' : JSON.stringify(v);
    case 'string':
    case 'boolean':
      return JSON.stringify(v);
    case 'bigint':
      throw new TypeError('BigInt is not representable as JSON');
    case 'object': {
      const withToJson = v as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === 'function') return encode(withToJson.toJSON());
      if (Array.isArray(v)) return `[${v.map((x) => encode(x) ?? 'null').join(',')}]`;
      const parts: string[] = [];
      for (const [k, x] of Object.entries(v)) {
        const e = encode(x);
        if (e !== undefined) parts.push(`${JSON.stringify(k)}:${e}`);
      }
      return `{${parts.join(',')}}`;
    }
    default:
      // undefined, functions and symbols: omitted in objects, null in arrays (as JSON.stringify does).
      return undefined;
  }
}

export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
