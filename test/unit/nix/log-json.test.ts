import { describe, expect, it } from "vitest";
import { ACT, fieldNumber, fieldString, parseNixLogLine, RES } from "../../../src/nix/index.js";

const D = "/nix/store/9z45z55jbfs7fh75wyhnpbvkplf6i2jv-nixos-system-web1-1.0.0.drv";
const ESC = String.fromCharCode(27);

describe("--log-format internal-json lines of every release", () => {
  it("Nix 2.8 and Lix: start, result, stop, msg", () => {
    const start = parseNixLogLine(`@nix {"action":"start","fields":["${D}","",1,1],"id":1234,"level":3,"parent":0,"text":"building '${D}'","type":105}`);
    expect(start).toMatchObject({ action: "start", type: ACT.build, id: 1234 });
    expect(start && fieldString(start, 0)).toBe(D);
    const progress = parseNixLogLine('@nix {"action":"result","fields":[1,3,1,0],"id":77,"type":105}');
    expect(progress).toMatchObject({ action: "result", type: RES.progress });
    expect(progress && fieldNumber(progress, 0)).toBe(1);
    expect(parseNixLogLine('@nix {"action":"stop","id":1234}')).toMatchObject({ action: "stop" });
    expect(parseNixLogLine('@nix {"action":"msg","level":0,"msg":"error: boom"}')).toMatchObject({ action: "msg", level: 0, msg: "error: boom" });
  });

  it("Nix 2.30 on: messages with colours, positions and traces; the colours are dropped", () => {
    const line = `@nix ${JSON.stringify({ action: "msg", level: 0, msg: `${ESC}[31;1merror:${ESC}[0m Cannot build '${ESC}[35;1m${D}${ESC}[0m'.`, raw_msg: "Cannot build", line: null, column: null, file: null, trace: [] })}`;
    expect(parseNixLogLine(line)).toMatchObject({ action: "msg", msg: `error: Cannot build '${D}'.` });
  });

  it("plain text and other JSON are not events", () => {
    for (const l of ["copying path '/nix/store/x'", "@nix not json", '@nix {"action":"dance"}', '@nix {"action":"start"}', "[1,2]", ""]) expect(parseNixLogLine(l), l).toBeUndefined();
  });
});
