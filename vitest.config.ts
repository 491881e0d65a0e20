import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    setupFiles: ["test/setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default"],
    projects: [
      // Unit tests touch no shared store, bridge or host: they run beside the serial lane, which
      // keeps the full run well inside CI's 30 minutes on two cores.
      { extends: true, test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      // End-to-end and integration tests share the machine's Nix store and test bridge; their
      // files run one at a time.
      {
        extends: true,
        test: { name: "shared", include: ["test/e2e/**/*.test.ts", "test/integration/**/*.test.ts"], fileParallelism: false },
      },
    ],
  },
});
