/** A profile's generation links, `<profile>-N-link`, as Nix names them (N in the first group). */
export function generationLink(base: string): RegExp {
  return new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d+)-link$`);
}
