import { describe, expect, it } from "vitest";
import { parseFleetFile } from "../../../src/fleet/index.js";

const fleet = (key: string) => parseFleetFile(`[hosts.web1.keys.tls]\n${key}\n`);

describe("[hosts.<name>.keys] in oscd.toml", () => {
  it("takes one source with destination, owner, group, mode and when to upload", () => {
    const f = fleet('file = "/secrets/tls.pem"\ndestination = "/var/lib/app/tls.pem"\nowner = "app"\ngroup = "app"\nmode = "0440"\nupload = "after"');
    expect(f.hosts.web1?.keys?.tls).toEqual({ file: "/secrets/tls.pem", destination: "/var/lib/app/tls.pem", owner: "app", group: "app", mode: "0440", upload: "after" });
    expect(fleet('command = ["pass", "show", "tls"]').hosts.web1?.keys?.tls).toMatchObject({ owner: "root", group: "root", mode: "0400", upload: "before" });
  });

  it("refuses no source or two, a relative or climbing destination, shell text in owner or mode", () => {
    expect(() => fleet('destination = "/run/keys/x"')).toThrow(/exactly one of text, file or command/);
    expect(() => fleet('text = "a"\nfile = "/b"')).toThrow(/exactly one of text, file or command/);
    expect(() => fleet('text = "a"\ndestination = "run/keys/x"')).toThrow(/destination/);
    expect(() => fleet('text = "a"\ndestination = "/run/keys/../../etc/shadow"')).toThrow(/'\.\.'/);
    expect(() => fleet('text = "a"\nowner = "root;reboot"')).toThrow(/owner/);
    expect(() => fleet('text = "a"\nmode = "u+rwx"')).toThrow(/mode/);
    expect(() => parseFleetFile('[hosts.web1.keys.__proto__]\ntext = "a"\n')).toThrow();
  });
});

describe("hosts.<name>.oscd", () => {
  it("takes a command of words, refuses options, control characters and double spaces", () => {
    expect(parseFleetFile('[hosts.web1]\noscd = "/run/current-system/sw/bin/oscd"\n').hosts.web1?.oscd).toBe("/run/current-system/sw/bin/oscd");
    expect(parseFleetFile('[hosts.web1]\noscd = "node /opt/oscd/bin/oscd.js"\n').hosts.web1?.oscd).toBe("node /opt/oscd/bin/oscd.js");
    for (const bad of ["-oProxyCommand=x", "oscd\\nrm", "a  b", " oscd", ""]) expect(() => parseFleetFile(`[hosts.web1]\noscd = "${bad}"\n`), bad).toThrow(/oscd/);
  });
});
