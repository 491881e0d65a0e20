/**
 * A strict JSON reader for signed documents (RFC 8259 without its leeway): a key twice in one
 * object is refused, since readers that keep the first and readers that keep the last would see
 * different documents under one signature (JSON.parse keeps the last); lone UTF-16 surrogates
 * are refused, since they have no UTF-8 form and canonical JSON could not be reproduced
 * elsewhere; nesting and size are bounded. Errors are one line with a line and column (V8's
 * JSON.parse messages quote the input over several lines).
 */
export class StrictJsonError extends Error {
  constructor(
    readonly detail: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${detail} at line ${line}, column ${column}`);
  }
}

export interface StrictJsonLimits {
  maxDepth: number;
  maxLength: number;
}

const DEFAULT_LIMITS: StrictJsonLimits = { maxDepth: 32, maxLength: 16 * 1024 * 1024 };

/** A name from the input, quoted and cut short for an error message (escapes newlines and the like). */
export function quoteForMessage(s: string, max = 60): string {
  // JSON.stringify escapes C0 controls and lone surrogates; line and paragraph separators and
  // C1 controls (NEL) it leaves, and some terminals and log viewers break lines on them.
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s).replace(/[\u0080-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** True when no UTF-16 surrogate stands alone. */
export function wellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

export function parseStrictJson(text: string, limits: Partial<StrictJsonLimits> = {}): unknown {
  const lim = { ...DEFAULT_LIMITS, ...limits };
  if (text.length > lim.maxLength) throw new StrictJsonError(`longer than ${lim.maxLength} characters`, 1, 1);
  let pos = 0;

  const fail = (detail: string, at = pos): never => {
    let line = 1;
    let col = 1;
    for (let i = 0; i < at && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        col = 1;
      } else col++;
    }
    throw new StrictJsonError(detail, line, col);
  };
  const ws = () => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else return;
    }
  };
  const describeAt = () => (pos >= text.length ? "end of input" : quoteForMessage(text.slice(pos, pos + 1)));

  const string = (): string => {
    const start = pos;
    pos++; // opening quote
    let out = "";
    let run = pos;
    for (;;) {
      if (pos >= text.length) fail("unterminated string", start);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(run, pos);
        pos++;
        break;
      }
      if (c < 0x20) fail("control character in a string");
      if (c !== 0x5c) {
        pos++;
        continue;
      }
      out += text.slice(run, pos);
      const e = text[pos + 1];
      switch (e) {
        case '"':
          out += '"';
          break;
        case "\\":
          out += "\\";
          break;
        case "/":
          out += "/";
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          fail("bad escape in a string");
      }
      pos += 2;
      run = pos;
    }
    if (!wellFormed(out)) fail("lone UTF-16 surrogate in a string", start);
    return out;
  };

  const number = (): number => {
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = pos;
    const r = m.exec(text);
    if (!r || r[0] === "" || r[0] === "-") return fail(`unexpected ${describeAt()}`);
    const n = Number(r[0]);
    if (!Number.isFinite(n)) fail("number out of range");
    pos += r[0].length;
    return n;
  };

  const value = (depth: number): unknown => {
    ws();
    const c = text[pos];
    if (c === "{" || c === "[") {
      if (depth >= lim.maxDepth) fail(`nested deeper than ${lim.maxDepth} levels`);
      return c === "{" ? object(depth + 1) : array(depth + 1);
    }
    if (c === '"') return string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return number();
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (text.startsWith(word, pos)) {
        pos += word.length;
        return v;
      }
    }
    return fail(`unexpected ${describeAt()}`);
  };

  const object = (depth: number): Record<string, unknown> => {
    pos++;
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    ws();
    if (text[pos] === "}") {
      pos++;
      return out;
    }
    for (;;) {
      ws();
      if (text[pos] !== '"') fail(`expected a key, found ${describeAt()}`);
      const keyAt = pos;
      const k = string();
      if (seen.has(k)) fail(`duplicate key ${quoteForMessage(k)}`, keyAt);
      seen.add(k);
      ws();
      if (text[pos] !== ":") fail(`expected ':', found ${describeAt()}`);
      pos++;
      // defineProperty: a key named __proto__ is data, never the object's prototype.
      Object.defineProperty(out, k, { value: value(depth), enumerable: true, writable: true, configurable: true });
      ws();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "}") {
        pos++;
        return out;
      }
      fail(`expected ',' or '}', found ${describeAt()}`);
    }
  };

  const array = (depth: number): unknown[] => {
    pos++;
    const out: unknown[] = [];
    ws();
    if (text[pos] === "]") {
      pos++;
      return out;
    }
    for (;;) {
      out.push(value(depth));
      ws();
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "]") {
        pos++;
        return out;
      }
      fail(`expected ',' or ']', found ${describeAt()}`);
    }
  };

  const v = value(0);
  ws();
  if (pos < text.length) fail(`unexpected ${describeAt()} after the document`);
  return v;
}
