/**
 * Every error code oscd can emit, found in the source with the TypeScript type checker (no
 * hand-kept list): the `code` argument of every `new X(…)` and `super(…)` whose constructor
 * belongs to OscdError or a class derived from it, followed back through the functions and
 * constructors that only pass a code on (`badRequest(code, why)`, `ReleaseInputError(code, …)`),
 * plus the codes the CLI prints itself (`oscd: error[usage]`, `oscd: error[internal]`).
 *
 * A code argument that cannot be followed to string literals (read from a variable set at run
 * time, say) is reported as unresolved, so a new kind of error cannot slip past unnoticed.
 *
 *   npx tsx scripts/docs/error-codes.ts      prints the codes, one a line, with where each is made
 */
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface CodeScan {
  /** code → the places (file:line) that can emit it. */
  codes: Map<string, string[]>;
  /** Code arguments that could not be followed to literals (file:line: text). */
  unresolved: string[];
}

type Callable = ts.FunctionLikeDeclaration;

export function scanErrorCodes(srcDir = resolve(ROOT, "src")): CodeScan {
  const config = ts.getParsedCommandLineOfConfigFile(resolve(ROOT, "tsconfig.json"), {}, ts.sys as unknown as ts.ParseConfigFileHost);
  if (!config) throw new Error("cannot read tsconfig.json");
  const files = config.fileNames.filter((f) => resolve(f).startsWith(srcDir + "/"));
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const sources = program.getSourceFiles().filter((s) => resolve(s.fileName).startsWith(srcDir + "/"));

  const codes = new Map<string, string[]>();
  const unresolved: string[] = [];
  const where = (n: ts.Node) => {
    const sf = n.getSourceFile();
    return `${relative(ROOT, sf.fileName)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
  };
  const add = (code: string, at: ts.Node) => {
    const list = codes.get(code) ?? [];
    list.push(where(at));
    codes.set(code, list);
  };

  const errorBase = sources
    .find((s) => s.fileName.endsWith("/core/errors.ts"))
    ?.statements.find((st): st is ts.ClassDeclaration => ts.isClassDeclaration(st) && st.name?.text === "OscdError");
  if (!errorBase) throw new Error("OscdError not found in src/core/errors.ts");
  const baseSymbol = checker.getSymbolAtLocation(errorBase.name!);

  const isErrorClass = (cls: ts.ClassLikeDeclaration): boolean => {
    let type: ts.Type | undefined = checker.getTypeAtLocation(cls);
    const seen = new Set<ts.Type>();
    while (type && !seen.has(type)) {
      seen.add(type);
      if (type.getSymbol() === baseSymbol) return true;
      type = (type.isClassOrInterface() ? checker.getBaseTypes(type) : [])[0];
    }
    return false;
  };

  /** Every call (and `new`) in src, by the declaration it resolves to. */
  const callsOf = new Map<ts.Node, (ts.CallExpression | ts.NewExpression)[]>();
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
      const decl = checker.getResolvedSignature(n)?.getDeclaration();
      if (decl) {
        const list = callsOf.get(decl) ?? [];
        list.push(n);
        callsOf.set(decl, list);
      }
    }
    ts.forEachChild(n, visit);
  };
  for (const s of sources) visit(s);

  const followed = new Set<string>();

  /** The string literals an expression can be; parameters are followed to their callers. */
  const resolveExpr = (e: ts.Expression, at: ts.Node): void => {
    const type = checker.getTypeAtLocation(e);
    const parts = type.isUnion() ? type.types : [type];
    if (parts.every((t) => t.isStringLiteral())) {
      for (const t of parts) add((t as ts.StringLiteralType).value, at);
      return;
    }
    if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e)) return resolveExpr(e.expression, at);
    if (ts.isConditionalExpression(e)) {
      resolveExpr(e.whenTrue, at);
      resolveExpr(e.whenFalse, at);
      return;
    }
    if (ts.isBinaryExpression(e) && (e.operatorToken.kind === ts.SyntaxKind.QuestionQuestionToken || e.operatorToken.kind === ts.SyntaxKind.BarBarToken)) {
      resolveExpr(e.left, at);
      resolveExpr(e.right, at);
      return;
    }
    // `e.code` of a caught OscdError passes on a code made elsewhere (and found there).
    if (ts.isPropertyAccessExpression(e) && e.name.text === "code") {
      const owner = checker.getTypeAtLocation(e.expression).getSymbol()?.declarations?.[0];
      if (owner && ts.isClassLike(owner) && isErrorClass(owner)) return;
    }
    if (ts.isIdentifier(e)) {
      const decl = checker.getSymbolAtLocation(e)?.valueDeclaration;
      if (decl && ts.isParameter(decl)) return followParameter(decl, at);
      if (decl && ts.isVariableDeclaration(decl) && decl.initializer && ts.getCombinedNodeFlags(decl) & ts.NodeFlags.Const) return resolveExpr(decl.initializer, at);
    }
    unresolved.push(`${where(e)}: ${e.getText()}`);
  };

  /** A code that is a parameter: whatever every caller passes there (or its default). */
  const followParameter = (param: ts.ParameterDeclaration, at: ts.Node): void => {
    const fn = param.parent as Callable;
    const index = fn.parameters.indexOf(param);
    const key = `${where(fn)}#${index}`;
    if (followed.has(key)) return;
    followed.add(key);
    if (param.initializer) resolveExpr(param.initializer, param);
    // A constructor's callers resolve to the constructor; a function's to the function (or,
    // for an arrow function kept in a const, to the arrow itself).
    const calls = callsOf.get(fn) ?? [];
    if (calls.length === 0 && !param.initializer) unresolved.push(`${where(param)}: parameter ${param.name.getText()} of a function no one in src calls`);
    for (const call of calls) {
      const arg = call.arguments?.[index];
      if (arg) resolveExpr(arg, call);
    }
    void at;
  };

  for (const [decl, calls] of callsOf) {
    if (!ts.isConstructorDeclaration(decl) || !isErrorClass(decl.parent)) continue;
    const index = decl.parameters.findIndex((p) => p.name.getText() === "code");
    if (index < 0) continue; // a fixed code: its own super(…) call is scanned like any other
    // Callers of a constructor that passes its `code` on are followed through followParameter.
    followParameter(decl.parameters[index]!, decl);
    void calls;
  }

  // Codes carried as data (`{ code: "skipped", message }` in a deploy report, an agent event, an
  // HTTP answer): object literals with a literal `code` next to a `message`. zod's
  // `ctx.addIssue({ code: "custom", … })` is zod's, not oscd's.
  const visitObjects = (n: ts.Node): void => {
    if (ts.isObjectLiteralExpression(n)) {
      const prop = (name: string) => n.properties.find((p) => (ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) && p.name.getText() === name);
      const code = prop("code");
      const isZodIssue = ts.isCallExpression(n.parent) && ts.isPropertyAccessExpression(n.parent.expression) && n.parent.expression.name.text === "addIssue";
      if (code && ts.isPropertyAssignment(code) && prop("message") && !isZodIssue) {
        const init = code.initializer;
        if (ts.isStringLiteralLike(init)) add(init.text, init);
        else if (ts.isConditionalExpression(init)) resolveExpr(init, init);
      }
    }
    ts.forEachChild(n, visitObjects);
  };
  for (const s of sources) visitObjects(s);

  // The codes the CLI writes itself.
  for (const s of sources) {
    for (const m of s.text.matchAll(/oscd: error\[([a-z][a-z0-9-]*)\]/g)) {
      const line = s.getLineAndCharacterOfPosition(m.index).line + 1;
      const list = codes.get(m[1]!) ?? [];
      list.push(`${relative(ROOT, s.fileName)}:${line}`);
      codes.set(m[1]!, list);
    }
  }
  return { codes, unresolved };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { codes, unresolved } = scanErrorCodes();
  for (const code of [...codes.keys()].sort()) process.stdout.write(`${code}\t${[...new Set(codes.get(code))].join(" ")}\n`);
  for (const u of unresolved) process.stderr.write(`unresolved: ${u}\n`);
  process.exitCode = unresolved.length > 0 ? 1 : 0;
}
